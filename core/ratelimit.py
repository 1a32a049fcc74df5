"""A request rate limit per credential: token buckets in memory, a valve that protects this instance.

Each key (a bearer token, or the client address of a request that presents none) has a bucket of
``burst`` requests that refills at ``rate_per_s``; a request takes one, and an empty bucket refuses it with
the time until the next one. The buckets live in this process only: with several instances behind a balancer
each instance applies the limit to what it receives (a client may get up to N times the rate from N
instances). That is what a valve protecting an instance needs; a quota shared by all instances would need
the database on every request, which is what the valve is there to spare.

Memory is bounded: at most ``max_buckets`` keys are kept, the least recently used dropped first (it has been
idle longest, so it is the most likely to be full again; a dropped bucket comes back full).
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import CallguardError

log = logging.getLogger(__name__)


class RateLimited(CallguardError):
    """429: the credential's requests exceed the rate limit; retry after ``retry_after_s``."""

    status = 429
    code = "rate-limited"

    def __init__(self, retry_after_s: int, *, rate_per_s: float, burst: int) -> None:
        super().__init__(f"too many requests; retry in {retry_after_s} s",
                         details={"retry_after_s": retry_after_s, "requests_per_s": rate_per_s, "burst": burst})
        self.retry_after_s = retry_after_s


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float
    refusing: bool = False  # logged once when it starts refusing, not once per refused request


class RateLimiter:
    """Token buckets per key; ``take`` answers how long to wait (0: go ahead)."""

    def __init__(self, rate_per_s: float, burst: int, *, max_buckets: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or burst < 1 or max_buckets < 1:
            raise ValueError("rate_per_s must be > 0, burst and max_buckets >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_buckets = max_buckets
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Take one request from ``key``'s bucket: 0.0 when allowed, else the seconds until one is available."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            while len(self._buckets) > self.max_buckets:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.at)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate_per_s)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.refusing = False
            return 0.0
        if not bucket.refusing:
            bucket.refusing = True
            log.warning("rate limit: refusing %s (over %g requests/s after a burst of %d)", key[:24],
                        self.rate_per_s, self.burst)
        return (1.0 - bucket.tokens) / self.rate_per_s

    def check(self, key: str) -> None:
        """Take one request from ``key``'s bucket or raise ``RateLimited`` (Retry-After in whole seconds)."""
        wait = self.take(key)
        if wait > 0:
            raise RateLimited(max(1, math.ceil(wait)), rate_per_s=self.rate_per_s, burst=self.burst)
