"""A stage is a small class: read one Dataset, write one, return a summary (datatrove's step shape).

Stages never hold a whole set as Python objects: they pass memory-mapped Arrow datasets and write
their output under the run directory. ``Stage.run`` returns ``(output_path, summary)``; the runner
records both in the stage's done-marker and hands the path to the next stage.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import datasets

from curation.errors import InputError
from curation.pipeline.config import PipelineConfig
from curation.pipeline.rundir import RunDir


@dataclass
class StageContext:
    config: PipelineConfig
    run: RunDir
    echo: Callable[[str], None] = print


class Stage:
    name: ClassVar[str]

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.config = ctx.config.stage(self.name)
        self.dir = ctx.run.stage_dir(self.name)

    def run(self, input_path: Path | None) -> tuple[Path | None, dict[str, Any]]:
        raise NotImplementedError


def load_dataset_at(path: Path | str | None, *, what: str) -> datasets.Dataset:
    """A stage output, memory-mapped: a ``save_to_disk`` folder or a single Arrow file."""
    if path is None:
        raise InputError(f"{what}: no input dataset (run the earlier stages first)")
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what}: input dataset {path} does not exist (was the run directory moved or cleaned?)")
    if path.is_dir():
        return datasets.load_from_disk(str(path))
    return datasets.Dataset.from_file(str(path))


def save_dataset(ds: datasets.Dataset, path: Path) -> Path:
    """Write ``ds`` with ``save_to_disk`` into a fresh folder, atomically (a kill leaves no half output)."""
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    ds.save_to_disk(str(tmp))
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path
