"""The pipeline: stages declared in YAML, run in one resumable run directory.

from thoughtmill.curation.pipeline import load_config, run_pipeline
run_pipeline(load_config("configs/demo.yaml"))
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:  # lazy: judges import the config module without the whole pipeline
    if name in ("load_config", "config_from_dict", "PipelineConfig"):
        from thoughtmill.curation.pipeline import config

        return getattr(config, name)
    if name in ("run_pipeline", "run_status", "STAGES"):
        from thoughtmill.curation.pipeline import runner

        return getattr(runner, name)
    raise AttributeError(name)


__all__ = ["STAGES", "PipelineConfig", "config_from_dict", "load_config", "run_pipeline", "run_status"]
