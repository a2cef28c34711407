"""Pull the final answer out of ``\\boxed{...}`` exactly the way Evalchemy's math tasks do.

Evalchemy uses the Hendrycks MATH helpers (``last_boxed_only_string`` + ``remove_boxed``) and turns any
failure into an empty answer. The quirks matter for identical numbers, so they are kept on purpose:

* ``\\boxed <x>`` (with a space) anywhere in the text wins over brace matching, and the answer runs to the
  next ``$``;
* otherwise the *last* ``\\boxed`` is taken and its braces are matched; without ``\\boxed`` the last
  ``\\fbox`` is located, but an ``\\fbox{..}`` never survives the prefix check, so it yields ``""``;
* unbalanced braces, or no box at all, yield ``""``.
"""

from __future__ import annotations

BOXED = "\\boxed"
BOXED_SPACE = "\\boxed "
BOXED_BRACE = "\\boxed{"
FBOX = "\\fbox"


def last_boxed(text: str) -> str | None:
    """The last boxed expression including its ``\\boxed`` prefix, or None when there is none."""
    if BOXED_SPACE in text:
        return BOXED_SPACE + text.split(BOXED_SPACE)[-1].split("$")[0]
    start = text.rfind(BOXED)
    if start < 0:
        start = text.rfind(FBOX)
        if start < 0:
            return None
    depth = 0
    for pos in range(start, len(text)):
        char = text[pos]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start : pos + 1]
    return None


def unbox(boxed: str) -> str | None:
    """The content of a boxed expression, or None when it is not a well-formed ``\\boxed``."""
    if BOXED_SPACE in boxed:
        return boxed[len(BOXED_SPACE) :] if boxed.startswith(BOXED_SPACE) else None
    if boxed.startswith(BOXED_BRACE) and boxed.endswith("}"):
        return boxed[len(BOXED_BRACE) : -1]
    return None


def extract_boxed_answer(text: str | None) -> str:
    """The final ``\\boxed{}`` answer of a model output; ``""`` when none can be extracted."""
    if not text:
        return ""
    boxed = last_boxed(text)
    if boxed is None:
        return ""
    answer = unbox(boxed)
    return "" if answer is None else answer
