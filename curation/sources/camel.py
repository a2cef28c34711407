"""camel-ai/physics, camel-ai/chemistry, camel-ai/biology: synthetic science questions with answers.

Real layout (one JSON object per file inside ``<subject>.zip`` on the Hub): ``role_1``, ``topic;``
(the semicolon is in the real key), ``sub_topic``, ``message_1`` (the question), ``message_2``
(the answer). OpenThoughts kept a fixed number of questions per sub-topic, drawn with a fixed seed.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import datasets
import numpy as np
from thoughtmill.curation.errors import InputError
from thoughtmill.curation.sources.arrow import arrow_column
from thoughtmill.curation.sources.base import DROP, Source, SourceStats, first_rows
from thoughtmill.curation.sources.local import read_local
from thoughtmill.curation.sources.registry import register_source

from thoughtmill.hub import HubError, download_file

SUBJECTS = ("physics", "chemistry", "biology")
#: OpenThoughts sampled 2 questions per sub-topic with seed 42.
PUBLISHED_PER_SUBTOPIC = 2
PUBLISHED_SEED = 42
_SUBTOPIC = "_sub_topic"


def read_zip(path: Path, *, source: str) -> datasets.Dataset:
    """Read the Hub's zip of one-object JSON files into an Arrow dataset, one member at a time."""

    def rows() -> Iterator[dict[str, Any]]:
        with zipfile.ZipFile(path) as archive:
            for member in sorted(archive.namelist()):
                if not member.endswith(".json"):
                    continue
                try:
                    record = json.loads(archive.read(member))
                except json.JSONDecodeError as exc:
                    raise InputError(f"source {source!r}: {path}:{member} is not valid JSON ({exc})") from exc
                yield {k: record.get(k) for k in ("role_1", "topic;", "sub_topic", "message_1", "message_2")}

    return datasets.Dataset.from_generator(rows)


class Camel(Source):
    """One CAMEL science subject; ``per_subtopic`` questions drawn per sub-topic with ``seed``."""

    name = "camel"
    domain = "science"
    required_columns: ClassVar[tuple[str, ...]] = ("topic;", "sub_topic", "message_1", "message_2")
    not_null_columns: ClassVar[tuple[str, ...]] = ("message_1", "sub_topic")
    extra_columns: ClassVar[tuple[str, ...]] = (_SUBTOPIC,)

    def __init__(
        self,
        subject: str,
        *,
        per_subtopic: int | None = PUBLISHED_PER_SUBTOPIC,
        seed: int = PUBLISHED_SEED,
        **kwargs: Any,
    ) -> None:
        if subject not in SUBJECTS:
            raise ValueError(f"camel subject must be one of {SUBJECTS}, got {subject!r}")
        self.subject = subject
        self.per_subtopic = per_subtopic
        self.seed = seed
        super().__init__(**kwargs)

    @property
    def source_name(self) -> str:
        return f"camel_{self.subject}"

    def read_raw(
        self, path_or_hub: str | Path | None, *, split: str, limit: int | None, streaming: bool
    ) -> tuple[datasets.Dataset, str]:
        if path_or_hub is not None and Path(path_or_hub).exists():
            path = Path(path_or_hub)
            origin = str(path)
        else:
            if split != "train":  # the Hub repo is one zip of conversations: there is no other split
                raise InputError(
                    f"source {self.source_name!r}: camel-ai/{self.subject} has only a 'train' split "
                    f"(one {self.subject}.zip), not {split!r}; the published recipe samples from it"
                )
            repo = str(path_or_hub or f"camel-ai/{self.subject}")
            try:
                path = download_file(repo, f"{self.subject}.zip")
            except HubError as exc:
                raise self.hub_input_error(exc, requested=path_or_hub) from exc
            origin = f"hub:{repo}"
        ds = (
            read_zip(path, source=self.source_name)
            if path.suffix == ".zip"
            else read_local(path, source=self.source_name)
        )
        return first_rows(ds, limit), origin

    def convert_row(self, row: dict[str, Any]) -> dict[str, Any]:
        problem = row["message_1"]
        answer = row["message_2"] or ""
        reason = "" if problem.strip() else "empty_problem"
        reason = reason or ("" if answer.strip() else "no_answer")
        return {
            "problem": problem,
            "ground_truth_solution": answer,
            _SUBTOPIC: row["sub_topic"],
            DROP: reason,
        }

    def postprocess(self, ds: datasets.Dataset, stats: SourceStats) -> datasets.Dataset:
        """Draw ``per_subtopic`` rows from each sub-topic (all of a smaller one), seeded, in row order."""
        if self.per_subtopic is None or len(ds) == 0:
            return ds
        topics = arrow_column(ds, _SUBTOPIC).to_numpy(zero_copy_only=False)
        _, groups = np.unique(topics, return_inverse=True)
        rng = np.random.default_rng(self.seed)
        order = np.argsort(groups, kind="stable")
        bounds = np.flatnonzero(np.diff(groups[order])) + 1
        keep: list[np.ndarray] = []
        for members in np.split(order, bounds):
            take = min(self.per_subtopic, len(members))
            keep.append(rng.choice(members, size=take, replace=False))
        chosen = np.sort(np.concatenate(keep))
        stats.drop("not_sampled", len(ds) - len(chosen))
        return ds.select(chosen.tolist())


for _subject in SUBJECTS:
    register_source(partial(Camel, _subject), name=f"camel_{_subject}")
