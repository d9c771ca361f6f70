"""Throughput over a sliding time window, so that progress lines and ETAs follow the current pace.

A whole-session average lags: a slow start (a benchmark running beside the job, a cold cache, a
validation pass) keeps the reported rate low and the ETA hours too long well after the pace has
recovered. :class:`RecentRate` measures over roughly the last ``window_s`` seconds instead.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable


class RecentRate:
    """Units per second (steps, patches, files) over about the last ``window_s`` seconds.

    Feed it the running count with :meth:`update`; it keeps (time, count) samples and measures from
    the newest one that is at least ``window_s`` old, so the window is never shorter than
    ``window_s`` once the job has run that long (before that it is everything since the start).
    """

    def __init__(self, count: float, window_s: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self.window_s, self.clock = window_s, clock
        self.samples: deque[tuple[float, float]] = deque([(clock(), count)])

    def update(self, count: float) -> float:
        """Record the running ``count`` now; the rate over the window (0.0 until time has passed)."""
        now = self.clock()
        self.samples.append((now, count))
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.window_s:
            self.samples.popleft()
        start, start_count = self.samples[0]
        return (count - start_count) / (now - start) if now > start else 0.0
