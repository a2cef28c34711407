"""The benchmark registry: one entry per benchmark, read by the evaluator *and* by decontamination.

An entry says where the benchmark's problems live on the Hub, which column holds each problem's text
(what decontamination compares) and which evaluator class scores it (``"module:Class"``, imported
only by the evaluator, so decontamination reads this list without importing ``eval``). Decontamination
removes from training exactly the problems the evaluator scores.

Adding a benchmark: write its evaluator class (one file under ``eval/benchmarks/``) and add one
``register_benchmark(...)`` line below. A name is looked up ignoring case, ``_`` and ``-``, so the
configs' ``gpqa_diamond`` and the evaluator's ``GPQADiamond`` are one name.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, replace
from typing import Any

from thoughtmill.hub import HubLocation


@dataclass(frozen=True)
class BenchmarkInfo:
    """One benchmark: its name (as Evalchemy spells it), Hub data, problem-text columns and evaluator.

    ``evaluator`` is the evaluator class or its ``"module:Class"`` path (imported when first needed).
    ``also_decontaminate`` are wider copies of the same problems (another year's contest, every release)
    that decontamination removes too, each with its text columns: the evaluator scores ``hub``, and
    training must not hold any copy of it.
    """

    name: str
    hub: HubLocation
    text_columns: tuple[str, ...]
    evaluator: str | type
    also_decontaminate: tuple[tuple[HubLocation, tuple[str, ...]], ...] = ()

    def decontamination_sources(self) -> tuple[tuple[HubLocation, tuple[str, ...]], ...]:
        """Every copy decontamination reads: the evaluator's, then the wider ones."""
        return ((self.hub, self.text_columns), *self.also_decontaminate)

    def evaluator_class(self) -> Any:
        """The evaluator class (imported from its ``"module:Class"`` path the first time)."""
        if not isinstance(self.evaluator, str):
            return self.evaluator
        module, _, attribute = self.evaluator.partition(":")
        return getattr(importlib.import_module(module), attribute)


#: Every benchmark, by name, in registration order.
BENCHMARKS: dict[str, BenchmarkInfo] = {}


def benchmark_key(name: str) -> str:
    """What names are compared by: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def find_benchmark(name: str) -> BenchmarkInfo | None:
    """The entry called ``name`` (ignoring case, ``_`` and ``-``), or None."""
    key = benchmark_key(name)
    return next((info for info in BENCHMARKS.values() if benchmark_key(info.name) == key), None)


def benchmark_info(name: str) -> BenchmarkInfo:
    """The entry called ``name``; a KeyError listing the known benchmarks otherwise."""
    info = find_benchmark(name)
    if info is None:
        raise KeyError(f"unknown benchmark {name!r}; known benchmarks: {', '.join(BENCHMARKS)}")
    return info


def register_benchmark(info: BenchmarkInfo, *, replace_existing: bool = False) -> BenchmarkInfo:
    """Add ``info`` to the registry; a name already taken (in any spelling) is a ValueError."""
    existing = find_benchmark(info.name)
    if existing is not None:
        if not replace_existing:
            raise ValueError(f"benchmark {info.name!r} is already registered (as {existing.name!r})")
        del BENCHMARKS[existing.name]
    BENCHMARKS[info.name] = info
    return info


def unregister_benchmark(name: str) -> None:
    """Remove a benchmark (a plugin's or a test's); unknown names are a KeyError."""
    del BENCHMARKS[benchmark_info(name).name]


#: LiveCodeBench releases: release_vN is the first N files of the repo.
LCB_RELEASE_FILES = {
    f"release_v{n}": tuple(["test.jsonl"] + [f"test{k}.jsonl" for k in range(2, n + 1)]) for n in range(1, 6)
}


def lcb_location(release: str) -> HubLocation:
    """Where one LiveCodeBench release lives (the repo's loading script is refused by datasets>=4)."""
    if release not in LCB_RELEASE_FILES:
        raise ValueError(
            f"LiveCodeBench: unknown release {release!r} (known: {', '.join(LCB_RELEASE_FILES)})"
        )
    return replace(BENCHMARKS["LiveCodeBench"].hub, data_files=LCB_RELEASE_FILES[release])


# -- the built-in benchmarks (Evalchemy's data; AIME24 from the copy OpenThoughts decontaminated with) --

_EVAL = "thoughtmill.eval.benchmarks"
# fmt: off
register_benchmark(BenchmarkInfo("AIME24", HubLocation("Maxwell-Jia/AIME_2024"), ("Problem",), f"{_EVAL}.aime24:AIME24"))
register_benchmark(BenchmarkInfo("AIME25", HubLocation("zwhe99/aime25", "test"), ("problem",), f"{_EVAL}.aime25:AIME25",
                                also_decontaminate=((HubLocation("math-ai/aime25", "test"), ("problem",)),)))
register_benchmark(BenchmarkInfo("AMC23", HubLocation("zwhe99/amc23", "test"), ("question",), f"{_EVAL}.amc23:AMC23",
                                also_decontaminate=((HubLocation("AI-MO/aimo-validation-amc"), ("problem",)),)))
register_benchmark(BenchmarkInfo("MATH500", HubLocation("HuggingFaceH4/MATH-500", "test"), ("problem",), f"{_EVAL}.math500:MATH500"))
register_benchmark(BenchmarkInfo("GPQADiamond", HubLocation("Idavidrein/gpqa", "train", "gpqa_diamond"), ("Question",), f"{_EVAL}.gpqa_diamond:GPQADiamond"))
register_benchmark(BenchmarkInfo("LiveCodeBench", HubLocation("livecodebench/code_generation_lite", data_files=LCB_RELEASE_FILES["release_v2"]), ("question_content",), f"{_EVAL}.livecodebench:LiveCodeBench",
                                also_decontaminate=((HubLocation("livecodebench/code_generation_lite", data_files=("test*.jsonl",)), ("question_content",)),)))
# fmt: on
