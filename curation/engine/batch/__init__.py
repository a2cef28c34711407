"""Provider batch APIs: a teacher with ``mode: batch`` has its uncached requests answered through
the provider's batch API (half price) instead of live calls.

``options`` (the teacher's ``batch:`` keys), ``spool`` (the requests written to JSONL files, split at
the provider's limits), ``ledger`` (every batch submitted, fsync'd, so a killed run polls instead of
submitting again), ``clients`` (a registry of the providers' batch APIs: ``openai_batch``,
``anthropic_batch``), ``flow`` (submit, poll, collect answers into the response cache, retry what
failed).
"""
