"""The generation stage: one teacher request per problem through the engine (cached, resumable)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from thoughtmill.curation.errors import CurationError
from thoughtmill.curation.generate import GenerateTraces
from thoughtmill.curation.pipeline.counts import counts_by_group, subtract, total
from thoughtmill.curation.pipeline.stage import Stage, load_dataset_at
from thoughtmill.curation.teachers import resolve_teacher


class GenerateStage(Stage):
    """Rows whose request failed are left out and counted; the stage stays "incomplete" so the next
    ``run`` asks again for those rows only (everything answered comes back from the cache)."""

    name = "generate"

    def run(self, input_path: Path | None) -> tuple[Path | None, dict[str, Any]]:
        ds = load_dataset_at(input_path, what="generate")
        teacher = resolve_teacher(self.config.teacher, "stages.generate.teacher")
        llm = GenerateTraces(
            teacher,
            working_dir=self.ctx.run.cache_root,
            name="generate",
            max_in_flight=self.config.max_in_flight,
            progress=self.config.progress,
        )
        out = llm(ds, output_dir=self.dir / "engine")
        assert llm.last_run is not None
        paths = llm.last_run.paths
        failed = subtract(counts_by_group(ds), counts_by_group(out))
        summary: dict[str, Any] = {
            "rows": len(out),
            "teacher": teacher.label,
            "model": teacher.model,
            "engine": llm.stats,
            "failures_file": self.ctx.run.relative(paths.failures),
            "counts": counts_by_group(out),
            "failed": failed,
            "incomplete": total(failed) > 0,
        }
        if len(out) == 0:
            raise CurationError(
                f"generate: every one of {len(ds)} requests to teacher '{teacher.label}' failed; "
                f"first failure: {_first_failure(paths.failures)} (all in {paths.failures})"
            )
        return paths.dataset, summary


def _first_failure(path: Path) -> str:
    try:
        with open(path) as handle:
            record = json.loads(handle.readline())
        return f"row {record['row']}: {record['error']}"
    except (OSError, ValueError, KeyError):
        return "unknown"
