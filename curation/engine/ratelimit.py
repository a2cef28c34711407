"""Client-side rate limiting: stay under the provider's limits instead of learning them from 429s.

Three gates, all async: a concurrency cap, a requests/min token bucket and a tokens/min token bucket
(prompt tokens estimated, output tokens reserved from max_tokens and refunded from the real usage).
On top, a shared cool-down: a 429 (honouring ``Retry-After``) or rate-limit headers announcing an
exhausted quota pause *every* request, not just the one that was refused — Curator's OpenAI path
retries the refused request alone and keeps hammering the server.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

_BURST_SECONDS = 10.0  # a bucket holds this many seconds of its rate: smooth, but no slow start


class TokenBucket:
    """A continuously refilled bucket; ``acquire`` waits until the amount is available."""

    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * _BURST_SECONDS)
        self.level = self.capacity
        self.stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    async def acquire(self, amount: float) -> float:
        """Take ``amount`` (capped at the capacity, so one huge request cannot wait forever)."""
        amount = min(amount, self.capacity)
        async with self._lock:  # FIFO: waiters are served in arrival order
            while True:
                self._refill()
                if self.level >= amount:
                    self.level -= amount
                    return amount
                await asyncio.sleep((amount - self.level) / self.rate)

    def refund(self, amount: float) -> None:
        """Give back what was reserved but not used (may go negative: over-use is paid later)."""
        self._refill()
        self.level = min(self.capacity, self.level + amount)


@dataclass(frozen=True)
class Permit:
    """What one request holds while in flight."""

    reserved_tokens: float = 0.0


_NO_TOKENS = Permit()  # shared by every request when no tokens/min limit is set


class RateLimiter:
    """Concurrency cap + requests/min + tokens/min + a shared cool-down."""

    def __init__(
        self,
        max_concurrency: int,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
    ) -> None:
        self._slots = asyncio.Semaphore(max_concurrency)
        self._requests = TokenBucket(requests_per_minute) if requests_per_minute else None
        self._tokens = TokenBucket(tokens_per_minute) if tokens_per_minute else None
        self._resume_at = 0.0
        self.cooldowns = 0

    def _cooling(self) -> bool:
        return self._resume_at > time.monotonic()

    async def _wait_cooldown(self) -> None:
        while (delay := self._resume_at - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    async def acquire(self, estimated_tokens: float) -> Permit:
        """Wait for a slot, the buckets and any cool-down.

        Each gate is awaited only when it is set or active: at full speed with no rpm/tpm limit
        this is one semaphore acquire, not four awaits per request.
        """
        if self._cooling():
            await self._wait_cooldown()
        await self._slots.acquire()
        try:
            if self._requests:
                await self._requests.acquire(1)
            reserved = await self._tokens.acquire(estimated_tokens) if self._tokens else 0.0
            if self._cooling():  # a 429 may have arrived while we queued
                await self._wait_cooldown()
        except BaseException:
            self._slots.release()
            raise
        return Permit(reserved_tokens=reserved) if reserved else _NO_TOKENS

    def release(self, permit: Permit, used_tokens: float | None) -> None:
        """Free the slot; refund reserved-but-unused tokens when the real usage is known."""
        self._slots.release()
        if self._tokens and used_tokens is not None:
            self._tokens.refund(permit.reserved_tokens - used_tokens)

    def cool_down(self, seconds: float) -> None:
        """Pause every request for ``seconds`` from now (extends, never shortens, a pause)."""
        resume = time.monotonic() + max(0.0, seconds)
        if resume > self._resume_at:
            self._resume_at = resume
            self.cooldowns += 1

    def observe_headers(self, headers: Mapping[str, str]) -> None:
        """Pause ahead of a 429 when the server says a quota is exhausted."""
        for remaining_header, reset_header in _QUOTA_HEADERS:
            remaining = headers.get(remaining_header)
            if remaining is None or _to_float(remaining) != 0:
                continue
            reset = headers.get(reset_header)
            if reset is not None:
                self.cool_down(parse_duration(reset))


_QUOTA_HEADERS = tuple(
    (f"x-ratelimit-remaining-{k}", f"x-ratelimit-reset-{k}") for k in ("requests", "tokens")
)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``Retry-After`` / ``retry-after-ms`` / ``x-ratelimit-reset-*``, if any."""
    if (ms := headers.get("retry-after-ms")) is not None and (v := _to_float(ms)) is not None:
        return v / 1000.0
    if (ra := headers.get("retry-after")) is not None:
        if (v := _to_float(ra)) is not None:
            return v
        try:  # an HTTP date
            from email.utils import parsedate_to_datetime

            return max(0.0, parsedate_to_datetime(ra).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    resets = [
        parse_duration(headers[h])
        for h in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
        if h in headers
    ]
    return max(resets) if resets else None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str) -> float:
    """OpenAI-style reset durations: ``"1s"``, ``"6m0s"``, ``"20ms"``, or plain seconds."""
    text = text.strip()
    if (v := _to_float(text)) is not None:
        return v
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[unit] for n, unit in _DURATION.findall(text))


def _to_float(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


class SharedBudget:
    """A provider's requests/min and tokens/min budget shared by every rank of a sharded run.

    Each rank keeps its own `RateLimiter` (its concurrency cap); this is the one budget they all draw
    from, so a cluster of N ranks stays under the provider's limit instead of assuming N times it. It is
    plain asyncio: a pipeline executor hosts one instance where every rank can reach it (a Ray actor on
    a cluster). A 429 seen by one rank pauses every rank (``cool_down`` / ``resume_in``).
    """

    def __init__(
        self, requests_per_minute: float | None = None, tokens_per_minute: float | None = None
    ) -> None:
        self._requests = TokenBucket(requests_per_minute) if requests_per_minute else None
        self._tokens = TokenBucket(tokens_per_minute) if tokens_per_minute else None
        self._resume_at = 0.0
        self.granted = 0

    async def acquire(self, estimated_tokens: float) -> float:
        """Wait for one request and ``estimated_tokens`` of the budget (and any cool-down); returns the
        tokens reserved, to be settled with `refund` when the real usage is known."""
        while (delay := self._resume_at - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        if self._requests:
            await self._requests.acquire(1)
        reserved = await self._tokens.acquire(estimated_tokens) if self._tokens else 0.0
        self.granted += 1
        return reserved

    def refund(self, amount: float) -> None:
        """Give back reserved-but-unused tokens (negative: over-use, paid by the next requests)."""
        if self._tokens and amount:
            self._tokens.refund(amount)

    def cool_down(self, seconds: float) -> None:
        """Pause every rank for ``seconds`` from now (extends, never shortens, a pause)."""
        self._resume_at = max(self._resume_at, time.monotonic() + max(0.0, seconds))

    def count(self) -> int:
        """Requests granted so far (what the tests and the benchmark read)."""
        return self.granted
