"""The engine error for a refused HTTP call, by status: what retries, what pauses everyone, what stops the run.

Shared by the Anthropic backend and the batch-API clients, so a status means the same thing on every
path: 429 (and Anthropic's 529 "overloaded") pause every request then retry; 5xx, 408 and 409 retry;
401/403 stop the run; any other status fails the request.
"""

from __future__ import annotations

from collections.abc import Mapping

from thoughtmill.curation.engine.errors import AuthenticationError, RateLimited, RequestFailed, RetryableError
from thoughtmill.curation.engine.ratelimit import retry_after_seconds

EXCERPT = 300  # bytes of a refused body quoted in an error
#: statuses that mean "slow down": every request pauses (the limiter's shared cool-down)
SLOW_DOWN = frozenset({429, 529})


def http_error(
    status: int, headers: Mapping[str, str], raw: bytes, origin: str, key_env: str | None
) -> Exception:
    """The classified error for a non-2xx answer from ``origin`` (a URL, with the teacher's label)."""
    excerpt = raw[:EXCERPT].decode("utf-8", "replace")
    wait = retry_after_seconds(headers)
    if status in SLOW_DOWN:
        return RateLimited(f"HTTP {status} from {origin}: {excerpt}", retry_after=wait, status=status)
    if status in (401, 403):
        return AuthenticationError(
            f"{origin} refused our credentials (HTTP {status}): {excerpt}. "
            f"Check the key in ${key_env or '<no api_key_env set>'}; the run stops here."
        )
    if status in (408, 409) or status >= 500:
        return RetryableError(f"HTTP {status} from {origin}: {excerpt}", status=status, retry_after=wait)
    return RequestFailed(f"HTTP {status} from {origin}: {excerpt}", status=status, raw=excerpt)
