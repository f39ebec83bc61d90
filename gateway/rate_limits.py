"""The rate of requests a caller may make: a token bucket per API key, and per client
address for requests that present no valid key. GraphQL and download links spend
tokens; health checks and the published keys do not.

The buckets live in this process. A bucket in PostgreSQL would add a round trip and a
row update to every request, and a busy key's row would serialise its requests (a hot
row updated by every writer halved purchase throughput at 32 clients). The price: with
several gateway replicas each holds its own buckets, so one key may reach the limit on
every replica at once. Divide the setting by the replica count, or route each key to one
replica, where that matters.

What one GraphQL document may cost is bounded in gateway/document_limits/.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from services.kit import errors


class RateLimited(errors.AssentError):
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests; retry after {retry_after} s")
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"retry-after": str(self.retry_after)}


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        *,
        per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.per_second = per_second
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        # A bucket left alone this long is full again, the same as no bucket at all: the
        # sweep forgets it, so idle keys and one-off addresses hold no memory.
        self._refill_seconds = burst / per_second
        self._swept = clock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, name: str) -> None:
        """Spend one token of the bucket `name`, or raise RateLimited with the whole
        seconds until one is back. No await inside: one event loop needs no lock."""
        now = self._clock()
        self._sweep(now)
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = _Bucket(tokens=float(self.burst), updated=now)
        else:
            elapsed = now - bucket.updated
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.per_second)
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return
        raise RateLimited(max(1, math.ceil((1 - bucket.tokens) / self.per_second)))

    def _sweep(self, now: float) -> None:
        if now - self._swept < self._refill_seconds:
            return
        self._swept = now
        self._buckets = {
            name: bucket
            for name, bucket in self._buckets.items()
            if now - bucket.updated < self._refill_seconds
        }
