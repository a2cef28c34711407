"""Running a shardable stage as shards: split by a stable hash of the row id, run anywhere, merge.

    RUN_DIR/<stage>/shards/00001-of-00004/input/        the rows of rank 1 (their ids hash to 1 mod 4)
    RUN_DIR/<stage>/shards/00001-of-00004/cache/        rank 1's engine cache partition
    RUN_DIR/<stage>/shards/00001-of-00004/_shard_done.json   rank 1's completion marker
    RUN_DIR/<stage>/dataset/                           every shard's output, merged in input order

A shard is a picklable `ShardTask`: it rebuilds the config, runs the stage's own ``run`` on its rows
with its folder as the stage's ``dir`` and cache root, and writes its marker (paths relative to the run
directory) when done. A row always lands on the same rank for a given ``shards``, so its cached answer
is found again on a re-run; a re-run (or Ray's retry of a shard whose worker died) redoes only the
shards without a marker, and each of those resumes from its cache or journal.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow.compute as pc
from thoughtmill.curation.datasets_io import read_batches
from thoughtmill.curation.engine.batch.flow import BATCH_DIR
from thoughtmill.curation.engine.batch.ledger import LEDGER_FILE, uncollected_batches
from thoughtmill.curation.engine.cache import ResponseCache
from thoughtmill.curation.engine.config import TeacherConfig
from thoughtmill.curation.errors import ConfigError, InputError
from thoughtmill.curation.pipeline.atomic import atomic_write
from thoughtmill.curation.pipeline.config import PipelineConfig, config_from_dict
from thoughtmill.curation.pipeline.executors.budgeted import Budget
from thoughtmill.curation.pipeline.heartbeat import Heartbeat
from thoughtmill.curation.pipeline.rundir import RunDir
from thoughtmill.curation.pipeline.stage import (
    Stage,
    StageContext,
    budget_key,
    load_dataset_at,
    save_dataset,
)
from thoughtmill.curation.teachers import resolve_teacher

SHARD_MARKER = "_shard_done.json"
#: each row's position in the stage's input, carried through a shard so the merge restores input order
POSITION = "_thoughtmill_position"


def shard_of(ids: list[Any], world_size: int) -> np.ndarray:
    """The rank of each row: a stable hash (BLAKE2b) of its id, modulo ``world_size``."""
    out = np.empty(len(ids), dtype=np.int64)
    for k, row_id in enumerate(ids):
        digest = hashlib.blake2b(str(row_id).encode(), digest_size=8).digest()
        out[k] = int.from_bytes(digest, "little") % world_size
    return out


def shard_positions(ds: datasets.Dataset, rank: int, world_size: int) -> np.ndarray:
    """Positions (in input order) of the rows of ``rank``; read in batches, ids only."""
    if "id" not in ds.column_names:
        raise InputError("a sharded stage needs an 'id' column to shard its input by")
    parts, start = [], 0
    for batch in read_batches(ds, 65_536, ["id"]):
        ranks = shard_of(batch.column(0).to_pylist(), world_size)
        parts.append(np.flatnonzero(ranks == rank) + start)
        start += len(batch)
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def shard_name(rank: int, world_size: int) -> str:
    return f"{rank:05d}-of-{world_size:05d}"


def shard_world(name: str) -> int:
    """The number of shards of the layout a shard folder (``shard_name``) belongs to."""
    return int(name.split("-of-")[1])


class ShardRunDir(RunDir):
    """The run directory as one shard sees it: the sharded stage's folder (and the engine cache
    partition) is the shard's own folder; everything else, and relative paths, are the run's."""

    def __init__(self, config: PipelineConfig, stage: str, shard_dir: Path, world_size: int) -> None:
        super().__init__(config)
        self.sharded_stage = stage
        self.shard_dir = shard_dir
        self.world_size = world_size
        self._shard_heartbeat: Heartbeat | None = None

    @property
    def cache_root(self) -> Path:
        return self.shard_dir

    @property
    def heartbeat(self) -> Heartbeat:
        """The shard's own ``progress.json``, in its folder: the run's is the driver's alone."""
        if self._shard_heartbeat is None:
            self._shard_heartbeat = Heartbeat(self.shard_dir)
        return self._shard_heartbeat

    def stage_dir(self, stage: str) -> Path:
        return self.shard_dir if stage == self.sharded_stage else super().stage_dir(stage)

    def earlier_caches(self, stage: str) -> list[Path]:
        """The unsharded cache and the stage's partitions under another number of shards (its sibling
        ranks' partitions never hold this rank's rows, and are being written right now)."""
        partitions = RunDir(self.config).earlier_caches(stage)
        others = (p for p in partitions if shard_world(p.parent.name) != self.world_size)
        return [super().cache_root / "cache", *others]


@dataclass
class ShardTask:
    """One rank of one stage; called wherever the executor runs it, returns the shard's marker."""

    stage: type[Stage]
    config: dict[str, Any]
    input_path: str
    rank: int
    world_size: int
    key: str
    forced: frozenset[str] = frozenset()
    budgets: dict[str, Budget] = field(default_factory=dict)
    cpus: float | None = None  # what the executor gave this shard (None: the machine)

    def __call__(self) -> dict[str, Any]:
        config = config_from_dict(self.config)
        root = RunDir(config)
        shard_dir = root.stage_dir(self.stage.name) / "shards" / shard_name(self.rank, self.world_size)
        done = read_marker(shard_dir)
        if done is not None and done.get("key") == self.key:
            return done  # finished before (an earlier run, or a retried task that had finished)
        ds = load_dataset_at(self.input_path, what=self.stage.name)
        positions = shard_positions(ds, self.rank, self.world_size)
        record: dict[str, Any] = {"key": self.key, "rank": self.rank, "world_size": self.world_size}
        if len(positions) == 0:
            record.update(dataset=None, rows=0, summary={})
        else:
            part = ds.select(positions).add_column(POSITION, positions.tolist())
            shard_input = save_dataset(part, shard_dir / "input")
            del part, ds
            ctx = StageContext(
                config,
                ShardRunDir(config, self.stage.name, shard_dir, self.world_size),
                echo=lambda text: print(
                    f"[{self.stage.name} {shard_name(self.rank, self.world_size)}] {text}"
                ),
                forced=self.forced,
                budgets=self.budgets,
                cpus=self.cpus,
            )
            path, summary = self.stage(ctx).run(shard_input)
            record.update(dataset=root.relative(path), rows=summary.get("rows"), summary=summary)
        shard_dir.mkdir(parents=True, exist_ok=True)  # a rank with no rows has written nothing yet
        atomic_write(shard_dir / SHARD_MARKER, json.dumps(record, indent=2, default=str))
        return record


def check_earlier_caches(shard_run: ShardRunDir, stage: str) -> None:
    """Open, once on the driver, every cache the shards will read through: a damaged index is rebuilt
    (and unindexed answers indexed) here, alone, not by ranks that each hold it open and so cannot."""
    for path in shard_run.earlier_caches(stage):
        if path.is_dir():
            ResponseCache(path).close()


def refuse_layout_change_with_batches_out(run: RunDir, stage: str, world: int) -> None:
    """Stop before anything is sent when ``stage`` ran under another shard layout (another number of
    shards, or sharded against not) and batches it submitted are not collected: their ledgers belong to
    the old layout's engines, so the new layout would send those requests again and pay twice."""
    stage_dir = run.stage_dir(stage)
    elsewhere: dict[int, int] = {}  # shards of the layout -> batches it has out
    for ledger in sorted(stage_dir.rglob(f"{BATCH_DIR}/{LEDGER_FILE}")):
        parts = ledger.relative_to(stage_dir).parts
        layout = shard_world(parts[1]) if parts[0] == "shards" and len(parts) > 2 else 1
        if layout != world and (out := uncollected_batches(ledger.parent)):
            elsewhere[layout] = elsewhere.get(layout, 0) + len(out)
    if elsewhere:
        found = "; ".join(f"{n} under {layout} shard(s)" for layout, n in elsewhere.items())
        first = next(iter(elsewhere))
        raise ConfigError(
            f"{stage}: batches submitted by an earlier run of this stage are not collected yet ({found}); "
            f"this run uses {world} shard(s), whose engines do not know them and would pay for their "
            f"requests again. Collect them first with the layout that sent them (executor.shards={first}"
            + (", or executor.name=local" if first == 1 else "")
            + "), then change it: the answers are read from that layout's cache."
        )


def read_marker(shard_dir: Path) -> dict[str, Any] | None:
    path = shard_dir / SHARD_MARKER
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # a damaged marker: the shard runs again (its cache/journal make that cheap)


def run_sharded(stage: Stage, input_path: Path | None) -> tuple[Path | None, dict[str, Any]]:
    """Run ``stage`` as ``ctx.executor.shards`` shards on its executor; merge their outputs."""
    ctx, name = stage.ctx, stage.name
    if input_path is None:
        raise InputError(f"{name}: no input dataset (run the earlier stages first)")
    world = ctx.executor.shards
    run = ctx.run
    key = hashlib.sha256(f"{run.chain(name)}|{ctx.input_token}|{world}".encode()).hexdigest()[:16]
    shards_dir = run.stage_dir(name) / "shards"
    if name in ctx.forced:
        for marker in shards_dir.glob(f"*/{SHARD_MARKER}"):
            marker.unlink()
    data = ctx.config.model_dump(mode="json")
    data["run_dir"] = str(Path(ctx.config.run_dir).resolve())  # workers may run elsewhere
    if ctx.config.cache_dir:
        data["cache_dir"] = str(Path(ctx.config.cache_dir).resolve())
    budgets, cpus = shared_budgets(ctx), ctx.executor.shard_cpus()
    todo = [
        ShardTask(type(stage), data, str(Path(input_path).resolve()), rank, world, key, ctx.forced, budgets, cpus)
        for rank in range(world)
        if (read_marker(shards_dir / shard_name(rank, world)) or {}).get("key") != key
    ]  # fmt: skip
    if todo:
        check_earlier_caches(ShardRunDir(ctx.config, name, shards_dir / shard_name(0, world), world), name)
    ctx.echo(
        f"  {name}: {world} shards on executor '{ctx.executor.name}', {len(todo)} to run"
        + (f" ({world - len(todo)} finished earlier)" if len(todo) < world else "")
    )
    ctx.executor.map(todo)
    records = [read_marker(shards_dir / shard_name(rank, world)) for rank in range(world)]
    missing = [rank for rank, record in enumerate(records) if not record or record.get("key") != key]
    if missing:
        raise InputError(f"{name}: shard(s) {missing} of {world} left no completion marker")
    merged = merge_outputs([run.resolve(r["dataset"]) for r in records if r["dataset"]])  # type: ignore[index]
    path = save_dataset(merged, run.dataset_path(name))
    summary = merge_summaries([r["summary"] for r in records if r])  # type: ignore[index]
    summary.update(rows=len(merged), shards=world)
    return path, summary


def shared_budgets(ctx: StageContext) -> dict[str, Budget]:
    """One budget per teacher of the run with rpm/tpm limits, made once per run by the executor."""
    if not ctx.budgets:
        made: dict[str, Budget] = {}
        for where, spec in ctx.config.teachers().items():
            teacher: TeacherConfig = resolve_teacher(spec, where)
            budget = ctx.executor.budget(teacher)
            if budget is not None:
                made[budget_key(teacher)] = budget
        ctx.budgets = made
    return dict(ctx.budgets)


def merge_outputs(paths: list[Path | None]) -> datasets.Dataset:
    """Every shard's output as one dataset, rows back in input order (by ``POSITION``)."""
    parts = [load_dataset_at(path, what="merge shards") for path in paths]
    features = common_features(parts)
    parts = [p.cast(features) if p.features != features else p for p in parts]
    merged = datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    if POSITION not in merged.column_names:  # the stage dropped it: rank order
        return merged
    positions = pc.fill_null(merged.data.column(POSITION), 0).to_numpy()
    order = np.argsort(positions, kind="stable")
    ordered = merged.select(order) if (order != np.arange(len(order))).any() else merged
    return ordered.remove_columns(POSITION)


def common_features(parts: list[datasets.Dataset]) -> datasets.Features:
    """The first shard's features, with a column typed ``null`` there (all values missing) taking its
    type from a shard that has values."""
    features = parts[0].features.copy()
    for name, feature in features.items():
        if getattr(feature, "dtype", None) == "null":
            for part in parts[1:]:
                other = part.features.get(name)
                if other is not None and getattr(other, "dtype", None) != "null":
                    features[name] = other
                    break
    return features


def merge_summaries(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Shard summaries as one: numbers added, flags or-ed, mappings merged, differing texts listed."""
    merged: dict[str, Any] = {}
    for summary in summaries:
        for key, value in summary.items():
            merged[key] = _merge_value(merged[key], value) if key in merged else value
    return merged


def _merge_value(left: Any, right: Any) -> Any:
    if isinstance(left, bool) and isinstance(right, bool):
        return left or right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left + right
    if isinstance(left, dict) and isinstance(right, dict):
        return merge_summaries([left, right])
    if isinstance(left, list):
        return left + (right if isinstance(right, list) else [right])
    if left == right:
        return left
    return [left, right]
