"""The uniform problem schema every stage reads and writes (see docs/architecture.md).

The values of ``domain`` are the registered domains (``curation.judges.registry.DOMAINS``).
"""

from __future__ import annotations

import hashlib

#: Columns every sourced problem has, in order.
PROBLEM_COLUMNS = (
    "id",
    "problem",
    "domain",
    "source",
    "ground_truth_solution",
    "test_cases",
    "starter_code",
)

#: Columns the published "metadata" layout carries (OpenThoughts-114k, config "metadata").
METADATA_COLUMNS = (
    "problem",
    "ground_truth_solution",
    "test_cases",
    "starter_code",
    "deepseek_reasoning",
    "deepseek_solution",
    "domain",
    "source",
)


def problem_id(source: str, problem: str) -> str:
    """Stable id of a problem: the same source and text always give the same id."""
    digest = hashlib.sha256(f"{source}\x00{problem.strip()}".encode()).hexdigest()
    return digest[:16]
