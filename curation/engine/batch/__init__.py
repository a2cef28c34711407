"""Provider batch APIs: a teacher with ``mode: batch`` has its uncached requests answered through
the provider's batch API (half price) instead of live calls.

``options`` (the teacher's ``batch:`` keys), ``spool`` (the requests written to JSONL files, split at
the provider's limits), ``ledger`` (every batch submitted, fsync'd, so a killed run polls instead of
submitting again), ``client`` (what a provider's batch API offers) with ``http`` (its calls) and
``openai_batch`` / ``anthropic_batch``, ``registry`` (the clients by provider name), ``flow``
(submit, poll, collect answers into the response cache, retry what failed) and ``leftovers`` (what
the live loop does with what a batch left unanswered).
"""
