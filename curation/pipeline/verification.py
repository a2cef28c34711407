"""The verification stage: every generated row gets ``verified``, ``verdict`` and ``verification_detail``.

Each domain's judge streams over that domain's rows. Every judgement is appended to a journal the
moment it is made (keyed by row id + a hash of the answer), so an interrupted verification resumes
without re-running a sandbox or re-asking a judge; the journal is merged into the dataset at the end
batch by batch from sorted keys and record offsets, never a Python dict or table of the whole set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets.arrow_writer import ArrowWriter
from thoughtmill.curation.datasets_io import read_batches
from thoughtmill.curation.engine.budget import RunBudget
from thoughtmill.curation.errors import InputError
from thoughtmill.curation.judges import DOMAINS, JUDGE_COLUMNS, Judge, Judgement, JudgeResources
from thoughtmill.curation.judges.base import BackendFor
from thoughtmill.curation.pipeline.config import VerifyConfig
from thoughtmill.curation.pipeline.counts import counts_by_group, counts_per_domain, value_counts
from thoughtmill.curation.pipeline.journal import Journal
from thoughtmill.curation.pipeline.stage import Stage, load_dataset_at
from thoughtmill.curation.teachers import resolve_teacher

VERDICT_COLUMNS = ("verified", "verdict", "verification_detail", "verification_method")
_BATCH = 1000


def verification_key(row_id: str, solution: str) -> str:
    """A verdict belongs to one answer of one problem."""
    return hashlib.sha1(f"{row_id}\x00{solution}".encode()).hexdigest()[:24]


class DomainRows:
    """Re-iterable stream of one domain's rows that still need a verdict (each with ``_key``)."""

    def __init__(self, ds: datasets.Dataset, domain: str | None, skip: set[str]) -> None:
        self.ds = ds
        self.columns = [c for c in JUDGE_COLUMNS if c in ds.column_names]
        self.domain = domain
        self.skip = skip

    def __iter__(self) -> Iterator[dict[str, Any]]:
        # Plain file reads (``read_batches``), not the memory map: a pass over a 173k set would
        # otherwise leave its pages resident. Other domains' rows are dropped before any row object.
        for batch in read_batches(self.ds, _BATCH, self.columns):
            if self.domain is not None:
                batch = batch.filter(pc.equal(batch.column("domain"), self.domain))  # null domain: dropped
            for row in batch.to_pylist():
                row["_key"] = verification_key(row.get("id") or "", row.get("deepseek_solution") or "")
                if row["_key"] not in self.skip:
                    yield row


class VerifyStage(Stage):
    name = "verify"
    shardable = True

    def run(self, input_path: Path | None) -> tuple[Path | None, dict[str, Any]]:
        ds = load_dataset_at(input_path, what="verify")
        missing = [c for c in ("id", "domain", "deepseek_solution") if c not in ds.column_names]
        if missing:
            raise InputError(
                f"verify: input {input_path} lacks column(s) {missing}; expected a generated set"
            )
        journal_path = self.dir / f"journal-{self.ctx.run.fingerprint('verify')}.jsonl"
        if self.name in self.ctx.forced:  # --force verify: judge every row again
            journal_path.unlink(missing_ok=True)
        journal = Journal(journal_path)
        try:
            done = journal.final_keys()
            resumed = len(done)
            self._judge_truncated(ds, journal, done)
            judges = make_judges(
                self.config,
                cache_root=self.ctx.run.cache_root,
                earlier_caches=self.ctx.run.earlier_caches(self.name),
                work_dir=self.dir,
                backend_for=self.ctx.backend_for,
                budget=self._judge_budget(),
                cpus=self.ctx.cpus,
            )
            judged, beat = len(done), self.ctx.run.heartbeat  # progress: status, plain lines off a TTY
            for domain, n in value_counts(ds, "domain").items():
                self.ctx.echo(f"  verify {domain}: {n} rows")
                rows = DomainRows(ds, domain, done)
                judge = judges.get(domain)
                stream = judge.judge(rows) if judge else _unknown_domain(rows, domain)
                for key, judgement in stream:
                    journal.write(key, judgement)
                    judged += 1
                    beat.stage_progress(self.name, judged, len(ds))
        finally:
            journal.close()
        out, to_retry = self._merge(ds, journal)
        summary = {
            "rows": len(out),
            "resumed_judgements": resumed,
            "counts": counts_by_group(out, flag="verified"),
            "verdicts": counts_per_domain(out, "verdict"),
            "methods": counts_per_domain(out, "verification_method"),
            "journal": self.ctx.run.relative(journal.path),
            # not verdicts: infrastructure or judge-model failures, judged again by the next run
            "to_retry": to_retry,
            "incomplete": to_retry > 0,
        }
        return self.dir / "verified.arrow", summary

    def _judge_budget(self) -> RunBudget | None:
        """What the run's ``budget_usd`` leaves for LLM judges: the cap less what generation cost."""
        limit = self.ctx.config.budget_usd
        if limit is None:
            return None
        engine = (self.ctx.run.summaries().get("generate") or {}).get("engine") or {}
        spent = engine.get("total_cost_usd", engine.get("cost_usd")) or 0.0
        return RunBudget(limit / max(1, self.ctx.executor.shards), spent / max(1, self.ctx.executor.shards))

    def _judge_truncated(self, ds: datasets.Dataset, journal: Journal, done: set[str]) -> None:
        if not self.config.reject_truncated or "finish_reason" not in ds.column_names:
            return
        for row in DomainRows(ds, None, done):
            if row.get("finish_reason") == "length":
                judgement = Judgement(
                    False, "truncated", "finish_reason", {"error": "answer cut at max_tokens"}
                )
                journal.write(row["_key"], judgement)
                done.add(row["_key"])

    def _merge(self, ds: datasets.Dataset, journal: Journal) -> tuple[datasets.Dataset, int]:
        """Add the verdict columns to every row, batch by batch, into ``verified.arrow``.

        Only the journal's sorted keys and record offsets are held (~32 bytes per judgement); each
        batch looks its keys up with ``searchsorted`` and reads just its own records back from the
        file, so the verdicts and details of the whole set are never in memory at once. The input is
        read with plain file reads and written with the ``ArrowWriter`` that ``Dataset.map`` uses
        (same schema, same 1,000-row batches), so neither file's pages stay mapped during the merge.
        """
        sorted_keys, offsets = journal.latest()
        key_type = np.dtype(f"S{max(sorted_keys.dtype.itemsize, 24)}")  # searchsorted must not truncate
        sorted_keys = sorted_keys.astype(key_type, copy=False)
        to_retry = [0]

        def verdicts(ids: list[Any], sols: list[Any]) -> dict[str, list[Any]]:
            computed = [verification_key(i or "", s or "").encode() for i, s in zip(ids, sols)]
            wanted = np.array(computed, dtype=key_type)
            at = np.minimum(np.searchsorted(sorted_keys, wanted), max(len(sorted_keys) - 1, 0))
            found = sorted_keys[at] == wanted if len(sorted_keys) else np.zeros(len(wanted), bool)
            if not found.all():
                row = ids[int(np.flatnonzero(~found)[0])]
                raise InputError(f"verify: row {row!r} has no judgement in the journal (was it edited?)")
            picked = journal.records(offsets[at])
            to_retry[0] += sum(1 for r in picked if r["retry"])
            return {
                "verified": [r["verified"] for r in picked],
                "verdict": [r["verdict"] for r in picked],
                "verification_detail": [r["detail"] for r in picked],
                "verification_method": [r["method"] for r in picked],
            }

        features = ds.features.copy()
        for name in VERDICT_COLUMNS:
            features.pop(name, None)
        features.update(
            {"verified": datasets.Value("bool"), "verdict": datasets.Value("string"),
             "verification_detail": datasets.Value("string"), "verification_method": datasets.Value("string")}
        )  # fmt: skip
        base_columns = [c for c in ds.column_names if c not in VERDICT_COLUMNS]
        target = self.dir / "verified.arrow"
        partial = target.with_name(target.name + ".tmp")
        writer = ArrowWriter(features=features, path=str(partial))
        try:
            for batch in read_batches(ds, _BATCH, base_columns):  # plain file reads, not the memory map
                ids, sols = batch.column("id").to_pylist(), batch.column("deepseek_solution").to_pylist()
                table = pa.Table.from_batches([batch])
                for name, values in verdicts(ids, sols).items():
                    table = table.append_column(name, pa.array(values, features[name].pa_type))
                writer.write_table(table)
            writer.finalize()
        finally:
            writer.close()
        partial.replace(target)  # a kill leaves no half-written verified.arrow
        return datasets.Dataset.from_file(str(target)), to_retry[0]


def make_judges(
    config: VerifyConfig,
    *,
    cache_root: Path,
    work_dir: Path,
    earlier_caches: Sequence[Path] = (),
    backend_for: BackendFor | None = None,
    budget: RunBudget | None = None,
    cpus: float | None = None,
) -> dict[str, Judge]:
    """One judge per registered domain, with its judge teacher loaded when its config names one."""
    judges: dict[str, Judge] = {}
    for name, section in config.sections().items():
        spec = getattr(section, "judge_teacher", None)
        teacher = resolve_teacher(spec, f"stages.verify.{name}.judge_teacher") if spec is not None else None
        resources = JudgeResources(
            teacher=teacher,
            cache_root=cache_root,
            earlier_caches=tuple(earlier_caches),
            work_dir=work_dir,
            backend_for=backend_for,
            budget=budget,
            cpus=cpus,
        )
        judges[name] = DOMAINS[name].judge.build(section, resources)
    return judges


def _unknown_domain(rows: DomainRows, domain: str) -> Iterator[tuple[str, Judgement]]:
    for row in rows:
        detail = {
            "row": row.get("id"),
            "error": f"no judge for domain {domain!r} (registered: {', '.join(DOMAINS)})",
        }
        yield row["_key"], Judgement(False, "unknown_domain", "none", detail)
