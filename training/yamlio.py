"""YAML read/write that agrees with LLaMA-Factory's CLI on numbers.

PyYAML's safe loader (YAML 1.1) reads `1e-5` as a *string*; OmegaConf, which `llamafactory-cli` uses,
reads it as a float. Reading our configs differently from the trainer would let a validator pass what
the trainer rejects (or the reverse), so this loader resolves floats the way OmegaConf does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class _Loader(yaml.SafeLoader):
    """SafeLoader whose float resolver also matches `1e-5` (no dot), as OmegaConf's does."""


_Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _first in list("-+0123456789."):
    _Loader.yaml_implicit_resolvers[_first] = [
        (tag, rx)
        for tag, rx in _Loader.yaml_implicit_resolvers.get(_first, [])
        if tag != "tag:yaml.org,2002:float"
    ]
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


class _Dumper(yaml.SafeDumper):
    """SafeDumper that quotes a string such as '1e-4', which _Loader (and OmegaConf) would read as a float."""


_Dumper.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


def loads(text: str) -> Any:
    """Parse YAML text with OmegaConf-compatible numbers."""
    return yaml.load(text, Loader=_Loader)


def load_file(path: str | Path) -> Any:
    """Parse a YAML file with OmegaConf-compatible numbers."""
    return loads(Path(path).read_text(encoding="utf-8"))


def parse_value(text: str) -> Any:
    """A command-line override value: `1e-5` -> float, `true` -> bool, `a,b` stays a string."""
    if text == "":
        return ""
    try:
        return loads(text)
    except yaml.YAMLError:
        return text


def dumps(data: dict[str, Any]) -> str:
    """YAML text in insertion order; floats are written so both loaders read them back as floats."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)
