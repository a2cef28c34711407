"""Verification per domain: code in the sandbox, math by Math-Verify and/or an LLM judge, puzzles
against the answer key, science pass-through or judged. ``make_judges`` builds them from config."""

from __future__ import annotations

from pathlib import Path

from thoughtmill.curation.judges.base import JUDGE_COLUMNS, Judge, Judgement
from thoughtmill.curation.pipeline.config import VerifyConfig, resolve_teacher


def make_judges(config: VerifyConfig, *, cache_root: Path, work_dir: Path) -> dict[str, Judge]:
    """One judge per domain, with its judge teacher loaded when its mode needs one."""
    from thoughtmill.curation.judges.code import CodeJudge
    from thoughtmill.curation.judges.math import MathJudge
    from thoughtmill.curation.judges.puzzle import PuzzleJudge
    from thoughtmill.curation.judges.science import ScienceJudge

    def teacher(section: str, spec):
        return resolve_teacher(spec, f"stages.verify.{section}.judge_teacher") if spec is not None else None

    common = {"cache_root": cache_root, "work_dir": work_dir}
    return {
        "code": CodeJudge(config.code),
        "math": MathJudge(config.math, teacher("math", config.math.judge_teacher), **common),
        "puzzle": PuzzleJudge(config.puzzle, teacher("puzzle", config.puzzle.judge_teacher), **common),
        "science": ScienceJudge(config.science, teacher("science", config.science.judge_teacher), **common),
    }


__all__ = ["JUDGE_COLUMNS", "Judge", "Judgement", "make_judges"]
