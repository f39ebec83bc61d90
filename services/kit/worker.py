"""One polling worker: a loop that runs a pass of work, then waits for a wake-up or the
poll interval, gathers a stream of work into fuller passes, and backs off after a failure.

The outbox relay runs one per receiver; a background job that drains a table in passes
(a builder, a sequencer) can run on the same loop.
"""

import asyncio
import contextlib
import math
import random
from collections.abc import Awaitable, Callable

import structlog
from opentelemetry.instrumentation.utils import suppress_instrumentation

log = structlog.get_logger()

Pass = Callable[[], Awaitable[int]]
"""One pass of work; returns how many items it handled."""


class PollingWorker:
    def __init__(
        self,
        work: Pass,
        *,
        name: str,
        poll_seconds: float,
        batch_size: int,
        gather_seconds: float = 0.0,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        """A pass that handled `batch_size` items means a backlog: the next starts at
        once. After a pass that handled several but fewer, the next starts
        `gather_seconds` after it, so a stream of work is taken in fuller passes; a lone
        item is taken at once. After a pass that raised, the worker sleeps with
        exponential backoff (jittered, at most `max_backoff_seconds`) before the next."""
        self.name = name
        self._work = work
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._gather_seconds = gather_seconds
        self._max_backoff_seconds = max_backoff_seconds
        self._woken = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Start the next pass now rather than at the next poll; safe from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._woken.set)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        last_pass = -math.inf
        handled = 0
        failures = 0
        try:
            while True:
                if 1 < handled < self._batch_size:
                    await asyncio.sleep(max(0.0, last_pass + self._gather_seconds - loop.time()))
                last_pass = loop.time()
                # Cleared before the pass, so work arriving during it still wakes us.
                self._woken.clear()
                try:
                    # No request asked for a pass: its queries and calls are not traced
                    # (the outbox relay sends each event's trace itself).
                    with suppress_instrumentation():
                        handled = await self._work()
                    failures = 0
                except Exception:
                    log.exception("worker.pass_failed", worker=self.name)
                    handled = 0
                    failures += 1
                    await asyncio.sleep(self._backoff(failures))
                    continue
                if handled < self._batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._woken.wait(), timeout=self._poll_seconds)
        finally:
            self._loop = None

    def _backoff(self, failures: int) -> float:
        # Full jitter, so replicas that failed together do not retry together.
        ceiling = min(self._max_backoff_seconds, self._poll_seconds * 2 ** min(failures, 20))
        return random.uniform(ceiling / 2, ceiling)
