"""Find the program in a code answer the way Evalchemy's LiveCodeBench task does.

Every fenced block whose info string is letters only (```python, ```py, ```) is a candidate; the *last*
one is the answer. Blocks tagged e.g. ```python3 are not matched, exactly as upstream. The chosen block
is then cut at any ``</code>`` or stray fence and ``<code>`` markers are dropped.
"""

from __future__ import annotations

import re

_FENCED = re.compile(r"```(?:[a-zA-Z]*)\n(.*?)```", re.DOTALL)


def code_blocks(output: str | None) -> list[str]:
    """All fenced code blocks of an output, in order."""
    return _FENCED.findall(output or "")


def clean_code(block: str) -> str:
    """Strip leftover markup from an extracted block."""
    block = block.split("</code>")[0]
    block = block.replace("```python", "")
    block = block.split("```")[0]
    return block.replace("<code>", "")


def extract_final_code(output: str | None) -> str:
    """The program of the last code block, or ``""`` when the output has none."""
    blocks = code_blocks(output)
    return clean_code(blocks[-1]) if blocks else ""
