"""Tempo following of free playing (`--follow-tempo`) and tap tempo: pure functions of onset times.

TempoFollower places each onset on the 8th-note grid of the current tempo map and pulls the grid's
phase and tempo towards it, so a tempo change is followed within a couple of bars and phase errors
cannot pile up. Onsets far off the grid (ornaments, mistakes) are ignored.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from liveai.timing.transport import Transport

from liveai.music.meter import STEP_TICKS
from liveai.vocab import check_tempo

UNIT_STEPS = 2  # positions are 8th notes


class TempoFollower:
    """A phase-locked loop on the 8th-note grid: each onset near a grid position pulls the grid's
    phase towards it (phase_gain) and its tempo by the error per 8th since the last onset
    (tempo_gain). Errors are corrected at every onset, so they cannot pile up into drift."""

    def __init__(self, phase_gain: float = 0.6, tempo_gain: float = 0.6, tolerance: float = 0.35,
                 max_interval: int = 8) -> None:
        self.phase_gain = phase_gain
        self.tempo_gain = tempo_gain
        self.tolerance = tolerance  # of an 8th: onsets further from the grid are ignored
        self.max_interval = max_interval  # 8ths: after a longer gap only the phase is corrected
        self.last_k: int | None = None

    def reset(self) -> None:
        self.last_k = None

    def onset(self, t: float, transport: Transport) -> tuple[float, float, float] | None:
        """Take an onset at time t; returns (bpm, step, time) to re-anchor the grid, or None."""
        if not transport.running:
            return None
        unit = STEP_TICKS * UNIT_STEPS
        pos = transport.tick_at(t) / unit
        k = int(round(pos))
        err = pos - k  # in 8ths; negative: the player is early
        if abs(err) > self.tolerance:
            return None
        if self.last_k is not None and k <= self.last_k:
            return None  # a chord or a grace note: same position
        bpm = transport.bpm
        if self.last_k is not None and k - self.last_k <= self.max_interval:
            rel = err / (k - self.last_k)  # period error per 8th, relative
            bpm = bpm / (1.0 + self.tempo_gain * rel)
        self.last_k = k
        try:
            bpm = check_tempo(bpm)
        except ValueError:
            return None
        grid_t = transport.time_of_tick(k * unit)
        return bpm, float(k * UNIT_STEPS), grid_t + self.phase_gain * (t - grid_t)


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
