"""The ``batch:`` keys of a teacher: how its requests go through a provider's batch API."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from thoughtmill.curation.engine.strict import StrictModel


class BatchOptions(StrictModel):
    """Limits, polling and what to do with the requests a batch did not answer."""

    max_requests: int | None = Field(
        None,
        ge=1,
        description="requests per batch; default: the provider's limit (OpenAI 50,000, Anthropic 100,000)",
    )
    max_bytes: int | None = Field(
        None,
        ge=1024,
        description="bytes per batch; default: the provider's limit (OpenAI 200 MB, Anthropic 256 MB)",
    )
    poll_interval_s: float = Field(30.0, gt=0, description="seconds between two status checks of a batch")
    retry_failed: Literal["live", "batch", "none"] = Field(
        "live",
        description="errored/expired/cancelled items: answered live, in a new batch, or recorded as failed",
    )
    max_rounds: int = Field(3, ge=1, description="batches per request at most (retry_failed: batch)")
    completion_window: str = Field("24h", description="OpenAI's completion_window")
