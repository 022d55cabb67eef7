"""The chaos loop: one random component SIGKILLed every few seconds and restarted a little later, seeded and logged."""

from __future__ import annotations

import heapq
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Chaos:
    """
    Kill a random running component (its whole process group) every ``every`` seconds and restart it after
    ``down`` seconds, as a supervisor would; ``seed`` replays the same choices and pauses.

    :param kill: kills a component by name.
    :param restart: starts it again as it was started.
    :param components: the names that may be killed.
    """

    kill: Callable[[str], None]
    restart: Callable[[str], None]
    components: tuple[str, ...]
    seed: int
    every: tuple[float, float] = (5.0, 20.0)
    down: tuple[float, float] = (1.0, 15.0)
    started: float = field(default_factory=time.monotonic)
    log: list[str] = field(default_factory=list)
    kills: Counter = field(default_factory=Counter)
    last_kill: float | None = None

    def run(self, seconds: float) -> None:
        """Kill and restart for ``seconds``, then restart whatever is still down."""
        rng = random.Random(self.seed)
        pending: list[tuple[float, str]] = []  # (when, name) restarts due
        until = time.monotonic() + seconds
        next_kill = time.monotonic() + rng.uniform(*self.every)
        while time.monotonic() < until:
            now = time.monotonic()
            while pending and pending[0][0] <= now:
                self._restart(heapq.heappop(pending)[1])
            if now >= next_kill:
                down = {name for _, name in pending}
                name = rng.choice([c for c in self.components if c not in down])
                self._note("kill", name)
                self.kill(name)
                self.kills[name] += 1
                self.last_kill = time.monotonic()
                heapq.heappush(pending, (time.monotonic() + rng.uniform(*self.down), name))
                next_kill = time.monotonic() + rng.uniform(*self.every)
            wake = min([next_kill, until, *(when for when, _ in pending[:1])])
            time.sleep(max(0.0, wake - time.monotonic()))  # the loop's own pace: nothing waits on it
        for _, name in sorted(pending):
            self._restart(name)

    def _restart(self, name: str) -> None:
        self._note("restart", name)
        self.restart(name)

    def _note(self, action: str, name: str) -> None:
        line = f"{time.monotonic() - self.started:7.1f}s {action:7} {name}"
        self.log.append(line)
        print(line, flush=True)
