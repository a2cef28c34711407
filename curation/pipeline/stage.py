"""A stage is a small class: read one Dataset, write one, return a summary (datatrove's step shape).

Stages never hold a whole set as Python objects: they pass memory-mapped Arrow datasets and write
their output under the run directory. ``Stage.run`` returns ``(output_path, summary)``; the runner
records both in the stage's done-marker and hands the path to the next stage.

A stage whose rows are independent says so (``shardable = True``): the runner may then cut its input
into shards by a stable hash of the row id and run ``run`` on each shard wherever the executor puts
it (``pipeline.sharding``), with the shard's folder as its ``dir`` and cache. The stage never knows.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import datasets
import pyarrow as pa
from datasets.arrow_writer import ArrowWriter
from thoughtmill.curation.datasets_io import DATA_FILE, read_batches, streams_from_files, write_folder_state
from thoughtmill.curation.engine.backends import Backend
from thoughtmill.curation.engine.config import TeacherConfig
from thoughtmill.curation.errors import InputError
from thoughtmill.curation.pipeline.config import PipelineConfig
from thoughtmill.curation.pipeline.executors import Executor
from thoughtmill.curation.pipeline.executors.budgeted import Budget, budgeted_backend
from thoughtmill.curation.pipeline.executors.local import LocalExecutor
from thoughtmill.curation.pipeline.rundir import RunDir


@dataclass
class StageContext:
    config: PipelineConfig
    run: RunDir
    echo: Callable[[str], None] = print
    #: stages the user asked to redo from scratch (``--force``)
    forced: frozenset[str] = frozenset()
    #: the stage running now (named in ``summary.json`` when the run dies)
    current: str | None = None
    #: where sharded stages run (``executor:``)
    executor: Executor = field(default_factory=LocalExecutor)
    #: the token of the previous stage's output (what this stage's shard markers are keyed on)
    input_token: str = ""
    #: requests/tokens budgets shared by every shard, by `budget_key` of their teacher
    budgets: Mapping[str, Budget] = field(default_factory=dict)
    #: CPUs this stage (or shard) may use; None: the machine's
    cpus: float | None = None

    def backend_for(self, teacher: TeacherConfig) -> Backend | None:
        """The backend a stage's engine should use for ``teacher``: None (the engine's own), or one
        drawing from the budget all shards share when the run is sharded across processes."""
        return budgeted_backend(teacher, self.budgets.get(budget_key(teacher)))


def budget_key(teacher: TeacherConfig) -> str:
    """Which shared budget a teacher draws from: one per distinct teacher configuration."""
    return teacher.model_dump_json()


class Stage:
    name: ClassVar[str]
    #: rows are independent: the runner may run the stage per shard, anywhere (generate, verify)
    shardable: ClassVar[bool] = False

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
        raise InputError(
            f"{what}: input dataset {path} does not exist (was the run directory moved or cleaned?)"
        )
    if path.is_dir():
        return datasets.load_from_disk(str(path))
    return datasets.Dataset.from_file(str(path))


def save_dataset(ds: datasets.Dataset, path: Path) -> Path:
    """Write ``ds`` as a ``save_to_disk`` folder into a fresh folder, atomically (a kill leaves no half
    output).

    A set that ``read_batches`` can read from its files with plain reads (a stage input, or a sorted
    selection of one: what dedup and decontamination keep) and that fits in one shard is copied batch
    by batch that way; ``save_to_disk`` would read every row through the memory map, leaving the whole
    input resident in the process. Anything else goes through ``save_to_disk``.
    """
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if _one_plain_shard(ds):
        _copy_to_folder(ds, tmp)
    else:
        ds.save_to_disk(str(tmp))
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path


def _one_plain_shard(ds: datasets.Dataset) -> bool:
    """Whether ``save_to_disk`` would write one shard of ``ds`` and it can be copied with plain reads."""
    max_shard = datasets.utils.py_utils.convert_file_size_to_int(datasets.config.MAX_SHARD_SIZE)
    return ds.format["type"] is None and streams_from_files(ds) and ds._estimate_nbytes() < max_shard


def _copy_to_folder(ds: datasets.Dataset, folder: Path) -> None:
    """The folder ``save_to_disk`` writes for one shard: the rows through its ``ArrowWriter`` (same
    schema, 1,000-row batches), then ``state.json`` / ``dataset_info.json``."""
    folder.mkdir(parents=True)
    writer = ArrowWriter(features=ds.features, path=str(folder / DATA_FILE), embed_local_files=True)
    try:
        for batch in read_batches(ds):
            writer.write_table(pa.Table.from_batches([batch]))
        writer.finalize()
    finally:
        writer.close()
    write_folder_state(ds, folder)
