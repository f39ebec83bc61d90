"""`assent up`'s supervision of its processes: restarted when they die, with a backoff;
the stack stopped when one keeps failing as it starts."""

import time
from collections.abc import Callable
from dataclasses import dataclass

from services.stack import Stack, StackError, components_for


@dataclass
class _Watch:
    started_at: float
    # Deaths within QUICK_SECONDS of a start, in a row: a process failing as it starts.
    quick_failures: int = 0
    restart_at: float | None = None


class Supervisor:
    """Keeps `assent up`'s children running: one that dies is started again at once, and
    after a backoff that doubles with each further death soon after a start (0.5 s, 1 s,
    2 s... at most 30 s), each restart said on the console. A process that dies within
    `QUICK_SECONDS` of starting `MAX_QUICK_FAILURES` times in a row is failing at start,
    not crashing: the stack stops, naming it."""

    QUICK_SECONDS = 10.0
    MAX_QUICK_FAILURES = 5
    MAX_BACKOFF = 30.0

    def __init__(
        self,
        stack: Stack,
        *,
        say: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stack = stack
        self._say = say
        self._clock = clock
        self._components = {component.name: component for component in components_for(stack.env)}
        now = clock()
        self._watches = {name: _Watch(started_at=now) for name in stack.processes}

    def tick(self) -> None:
        now = self._clock()
        for name, watch in self._watches.items():
            if watch.restart_at is not None:
                if now >= watch.restart_at:
                    self._stack.start_component(self._components[name])
                    watch.started_at, watch.restart_at = now, None
                    self._say(f"{name} restarted")
                continue
            process = self._stack.processes[name]
            if process.poll() is None:
                continue
            quick = now - watch.started_at < self.QUICK_SECONDS
            watch.quick_failures = watch.quick_failures + 1 if quick else 1
            if watch.quick_failures >= self.MAX_QUICK_FAILURES:
                raise StackError(
                    f"{name} failed {watch.quick_failures} times in a row as it started "
                    f"(last exit code {process.returncode}); see its output above"
                )
            # At once the first time; then 0.5 s, doubling, while it keeps failing at start.
            delay = (
                0.0
                if watch.quick_failures == 1
                else min(0.5 * 2 ** (watch.quick_failures - 2), self.MAX_BACKOFF)
            )
            watch.restart_at = now + delay
            when = f"in {delay:.1f} s" if delay else "now"
            self._say(
                f"{name} stopped unexpectedly (exit code {process.returncode}); restarting {when}"
            )
