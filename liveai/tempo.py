"""Tempo following of free playing (`--follow-tempo`) and tap tempo: pure functions of onset times.

TempoFollower places each onset on the 8th-note grid of the current tempo map, fits a line
(time = a + b * position) through the last few onsets, and moves the grid to it: the tempo is the
slope, the phase the line itself, so a tempo change is followed within a couple of bars and phase
errors cannot pile up. Onsets far off the grid (ornaments, mistakes) are ignored.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from liveai.transport import STEP_TICKS, Transport, check_tempo

UNIT_STEPS = 2  # positions are 8th notes


class TempoFollower:
    def __init__(self, window: int = 8, gain: float = 0.7, tolerance: float = 0.3,
                 max_change: float = 0.2) -> None:
        self.window = window
        self.gain = gain
        self.tolerance = tolerance  # of an 8th: onsets further from the grid are ignored
        self.max_change = max_change  # relative tempo change accepted at once
        self.points: deque[tuple[float, int]] = deque(maxlen=window)

    def reset(self) -> None:
        self.points.clear()

    def onset(self, t: float, transport: Transport) -> tuple[float, float, float] | None:
        """Take an onset at time t; returns (bpm, step, time) to re-anchor the grid, or None."""
        if not transport.running:
            return None
        pos = transport.tick_at(t) / (STEP_TICKS * UNIT_STEPS)
        k = int(round(pos))
        if abs(pos - k) > self.tolerance:
            return None
        if self.points and k <= self.points[-1][1]:
            return None  # a chord or a grace note: same position
        self.points.append((t, k))
        if len(self.points) < 4:
            return None
        ts = np.array([p[0] for p in self.points])
        ks = np.array([p[1] for p in self.points], dtype=float)
        b, a = np.polyfit(ks, ts, 1)
        if b <= 0:
            return None
        bpm_fit = 60.0 / (b * 2)
        bpm = transport.bpm + self.gain * (bpm_fit - transport.bpm)
        if abs(bpm / transport.bpm - 1) > self.max_change:
            self.points.clear()
            return None
        try:
            bpm = check_tempo(bpm)
        except ValueError:
            return None
        at = a + b * k
        t_grid = transport.time_of_tick(k * STEP_TICKS * UNIT_STEPS)
        at = t_grid + self.gain * (at - t_grid)
        return bpm, float(k * UNIT_STEPS), at


class TapTempo:
    """Tempo from taps: the median of the last intervals; a pause of 2 s starts over."""

    def __init__(self, taps: int = 4) -> None:
        self.times: deque[float] = deque(maxlen=taps + 1)

    def tap(self, t: float) -> float | None:
        if self.times and t - self.times[-1] > 2.0:
            self.times.clear()
        self.times.append(t)
        if len(self.times) < 3:
            return None
        iv = np.diff(np.array(self.times))
        return check_tempo(60.0 / float(np.median(iv)))
