"""thoughtmill: turn a pile of questions into a verified reasoning-training set.

The product's folders stay at the repository root (``curation/``, ``execution/``, ``training/``,
``eval/``, ``configs/``) and are installed under this one name (``thoughtmill.curation``, ...) by
setuptools' package-dir mapping, so nothing collides with other top-level packages (Evalchemy's
``eval``). In a source checkout that is not installed (a subprocess started with the repository on
``PYTHONPATH``), the same names resolve through this package's search path.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent
if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "curation" / "__init__.py").is_file():
    __path__.append(str(_CHECKOUT))

try:
    __version__ = metadata.version("thoughtmill")
except metadata.PackageNotFoundError:  # a source checkout run without installing
    __version__ = "0+unknown"


def import_root() -> Path:
    """The folder to put on ``PYTHONPATH`` so a child process can ``import thoughtmill``."""
    return Path(__file__).resolve().parent.parent
