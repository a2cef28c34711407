"""What a stage's config strings resolve to, fingerprinted beside its settings.

A config names things by string: a teacher (a bundled name or a YAML path), a local source file, a
benchmark file. Fingerprinting only the strings would keep a stage "done" after the teacher YAML was
edited in place or rows were appended to a source file. Each stage's fingerprint is therefore made of
named parts: ``settings`` (its section of the config) and one part per thing a string resolves to
(``teacher:<field>``: the resolved teacher config; ``file:<field>``: size and full digest of the file).
The parts are kept in the stage's marker, so a re-run can say which one changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from thoughtmill.curation.pipeline.config import PipelineConfig
from thoughtmill.curation.sources.local import file_identity
from thoughtmill.curation.teachers import resolve_teacher

SETTINGS = "settings"


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _contents(path: str) -> Any:
    """Size and digest of every data file (not ``mtime_ns``: a copy or ``touch`` changes nothing)."""
    return [{k: f[k] for k in ("file", "size", "blake2b")} for f in file_identity(path)["files"]]


def _teacher(spec: Any, where: str) -> Any:
    return resolve_teacher(spec, where).model_dump(mode="json")


def _source_files(config: PipelineConfig) -> dict[str, Any]:
    specs = config.stages.sources.sources
    return {f"file:stages.sources.sources.{i}.path": _contents(s.path) for i, s in enumerate(specs) if s.path}


def _benchmark_files(config: PipelineConfig) -> dict[str, Any]:
    decon = config.stages.decontaminate
    return {f"file:stages.decontaminate.local_files.{k}": _contents(v) for k, v in decon.local_files.items()}


def _stage_teachers(config: PipelineConfig, stage: str) -> dict[str, Any]:
    """Every teacher the stage's section names (generation's, a question filter's, the judges')."""
    prefix = f"stages.{stage}."
    return {
        f"teacher:{w}": _teacher(spec, w) for w, spec in config.teachers().items() if w.startswith(prefix)
    }


#: Stage name -> the files its config strings resolve to (teachers are found for every stage).
RESOLVED: dict[str, Callable[[PipelineConfig], dict[str, Any]]] = {
    "sources": _source_files,
    "decontaminate": _benchmark_files,
}


def stage_parts(config: PipelineConfig, stage: str) -> dict[str, str]:
    """The named parts of one stage's fingerprint."""
    resolved = {**RESOLVED.get(stage, lambda _: {})(config), **_stage_teachers(config, stage)}
    return {SETTINGS: config.fingerprint(stage), **{name: digest(value) for name, value in resolved.items()}}


def combine(parts: dict[str, str]) -> str:
    return digest(parts)


def what_changed(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Why two fingerprints differ, one phrase per changed part."""
    reasons = []
    for name in sorted(set(old) | set(new)):
        if old.get(name) == new.get(name):
            continue
        kind, _, field = name.partition(":")
        if name == SETTINGS:
            reasons.append("its settings changed")
        elif kind == "teacher":
            reasons.append(f"the teacher {field} names resolves to another config (its YAML was edited?)")
        elif kind == "file":
            reasons.append(f"the file {field} names changed (size or contents)")
        else:
            reasons.append(f"{name} changed")
    return reasons
