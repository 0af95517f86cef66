"""The demo's capture clock: simulated hours that pass in seconds of wall time."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

HOUR = timedelta(hours=1)


class SimulatedClock:
    """The capture clock: runs through one simulated hour in `wall_seconds`, then holds at its end.

    Clamping to the hour keeps a slow machine's late requests in the hour they belong to.
    """

    def __init__(self, start: datetime):
        self._lock = threading.Lock()
        self._start, self._wall_start, self._speed, self._limit = start, time.monotonic(), 0.0, start

    def run_hour(self, start: datetime, wall_seconds: float) -> None:
        with self._lock:
            self._start, self._wall_start = start, time.monotonic()
            self._speed, self._limit = HOUR / timedelta(seconds=wall_seconds), start + HOUR - timedelta(milliseconds=1)

    def hold(self, moment: datetime) -> None:
        with self._lock:
            self._start, self._speed, self._limit = moment, 0.0, moment

    def __call__(self) -> datetime:
        with self._lock:
            elapsed = timedelta(seconds=(time.monotonic() - self._wall_start) * self._speed)
            return min(self._start + elapsed, self._limit)
