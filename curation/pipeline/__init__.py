"""The pipeline: stages declared in YAML, run in one resumable run directory.

from thoughtmill.curation.pipeline import load_config, run_pipeline
run_pipeline(load_config("configs/demo.yaml"))
"""

from __future__ import annotations

from thoughtmill.curation.pipeline.config import PipelineConfig, config_from_dict, load_config
from thoughtmill.curation.pipeline.runner import STAGES, run_pipeline, run_status

__all__ = ["STAGES", "PipelineConfig", "config_from_dict", "load_config", "run_pipeline", "run_status"]
