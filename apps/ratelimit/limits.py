"""Per-client and per-address request limits (fixed windows).

Each process remembers which keys are over their limit until their window ends, so a request
from a blocked client is refused without a round trip, and a request that goes through costs
one counter increment after its response. Counts are global when Redis is configured; other
processes learn that a key went over on their own next increment for it, so a limit can be
overshot by at most one request per process thread."""

import math
import threading
import time
from dataclasses import dataclass

from apps.ratelimit.counters import counters

MAX_REMEMBERED_BLOCKS = 10_000


@dataclass(frozen=True)
class Limit:
    name: str
    requests: int
    seconds: int


class Limiter:
    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self._blocked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str, now: float) -> int | None:
        """Seconds until ``key`` may try again, or None if it is not over its limit."""
        until = self._blocked_until.get(key)
        if until is None:
            return None
        if until <= now:
            self._blocked_until.pop(key, None)
            return None
        return max(1, math.ceil(until - now))

    def charge(self, key: str, now: float) -> None:
        """Count one request for ``key``; once it reaches the limit, block it until the window ends."""
        seconds = self.limit.seconds
        window = int(now // seconds)
        count = counters().hit(f"rl:{self.limit.name}:{key}:{window}", window, seconds + 1)
        if count >= self.limit.requests:
            with self._lock:
                if len(self._blocked_until) >= MAX_REMEMBERED_BLOCKS:
                    # Keys cycling through many addresses must not grow this without bound.
                    self._blocked_until = {k: t for k, t in self._blocked_until.items() if t > now}
                self._blocked_until[key] = (window + 1) * seconds


def now() -> float:
    return time.time()  # wall clock: windows must line up across processes
