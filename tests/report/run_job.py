"""A pipeline run as its own process (so a test can SIGKILL it): python run_job.py CONFIG RUN_DIR [override...]"""

from __future__ import annotations

import sys

import datasets
from thoughtmill.curation.pipeline.config import load_config
from thoughtmill.curation.pipeline.runner import run_pipeline

if __name__ == "__main__":
    datasets.disable_progress_bars()
    config = load_config(sys.argv[1], [f"run_dir={sys.argv[2]}", *sys.argv[3:]])
    run_pipeline(config, echo=lambda line: print(line, flush=True))
