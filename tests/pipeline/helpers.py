"""A small pipeline config against the fake teacher over HTTP (scripted answers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thoughtmill.curation.pipeline.config import PipelineConfig, config_from_dict

DATA = Path(__file__).resolve().parents[1] / "data" / "pipeline"


def http_config(tmp_path: Path, base_url: str, **teacher: Any) -> PipelineConfig:
    return config_from_dict(
        {
            "name": "fake-run",
            "run_dir": str(tmp_path / "run"),
            "stages": {
                "sources": {"sources": [{"name": "numina_math", "path": str(DATA / "numina_small.jsonl")}]},
                "decontaminate": {"enabled": False},
                "generate": {
                    "progress": False,
                    "teacher": {
                        "name": "fake", "provider": "openai", "model": "fake-r1", "base_urls": [base_url],
                        "max_concurrency": 4, "timeout_s": 10,
                        "retry": {"max_attempts": 1, "backoff_initial_s": 0.01, "backoff_max_s": 0.02},
                        **teacher,
                    },
                },
            },
        }
    )  # fmt: skip


#: The fake teacher answers 42 to every "Compute" problem (so the "= 7" ones are wrong).
SCRIPT = [
    {"match": "Compute", "content": "So the answer is $\\boxed{42}$.", "reasoning_content": "Think: 42."}
]
