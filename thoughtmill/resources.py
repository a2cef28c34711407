"""The configs bundled with thoughtmill (teachers, recipes, the demo), found with importlib.resources.

They ship as package data of ``thoughtmill.configs`` (the repository's ``configs/`` folder), so an
installed wheel finds them exactly as a source checkout does.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def bundled_config(*parts: str) -> Path:
    """Path of a bundled config file or folder, e.g. ``bundled_config("teachers", "deepseek-r1.yaml")``."""
    return Path(str(resources.files("thoughtmill.configs").joinpath(*parts)))
