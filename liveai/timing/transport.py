"""Musical time: tempo, meter and the grid, mapped onto clock seconds.

Positions are counted in ticks (TICKS_PER_BEAT per quarter note, divisible by 3 and 4 for
triplets and swing); the engine's grid is the 16th note (STEP_TICKS). A tempo change takes effect
at a given tick, so everything already planned keeps its time and nothing jumps.
"""
from __future__ import annotations

from liveai.music.meter import STEP_TICKS, TICKS_PER_BEAT, Meter  # noqa: F401 (the grid, re-exported for Transport's callers)
from liveai.vocab import check_tempo  # noqa: F401 (re-exported for callers of Transport)


class Transport:
    """Piecewise-constant tempo map from ticks to seconds, anchored when the transport starts."""

    def __init__(self, bpm: float = 120.0, meter: Meter = Meter()) -> None:
        self.meter = meter
        self.bpm = check_tempo(bpm)
        self.running = False
        self._t0 = 0.0  # time of anchor tick
        self._tick0 = 0
        self.start_time = 0.0

    def start(self, t: float) -> None:
        """Start at time t: tick 0 (beat 1 of bar 1) is at t."""
        self.running = True
        self.start_time = t
        self._t0, self._tick0 = t, 0

    def stop(self) -> None:
        self.running = False

    @property
    def seconds_per_tick(self) -> float:
        return 60.0 / (self.bpm * TICKS_PER_BEAT)

    @property
    def step_seconds(self) -> float:
        return STEP_TICKS * self.seconds_per_tick

    def time_of_tick(self, tick: float) -> float:
        return self._t0 + (tick - self._tick0) * self.seconds_per_tick

    def time_of_step(self, step: int) -> float:
        return self.time_of_tick(step * STEP_TICKS)

    def tick_at(self, t: float) -> float:
        return self._tick0 + (t - self._t0) / self.seconds_per_tick

    def step_at(self, t: float) -> int:
        """The nearest grid step to time t."""
        return int(round(self.tick_at(t) / STEP_TICKS))

    def set_tempo(self, bpm: float, from_step: int | None = None) -> None:
        """Change tempo from grid step from_step on (default: at once, if stopped)."""
        bpm = check_tempo(bpm)
        if self.running and from_step is not None:
            tick = from_step * STEP_TICKS
            self._t0, self._tick0 = self.time_of_tick(tick), tick
        self.bpm = bpm

    def anchor(self, step: float, t: float, bpm: float) -> None:
        """Make grid step `step` fall at time t, at tempo bpm (for following an external clock)."""
        self.bpm = check_tempo(bpm)
        self._t0, self._tick0 = t, step * STEP_TICKS

    @property
    def steps_per_bar(self) -> int:
        return self.meter.steps_per_bar

    def bar_beat(self, t: float) -> tuple[int, int]:
        """1-based (bar, beat) at time t, counted in the meter's own beat (an 8th in 6/8 and 7/8);
        (0, 0) while stopped. A query a tenth of a millisecond before a beat counts as on it.
        The one place bar and beat are computed (/liveai/status, /liveai/position, the live view)."""
        if not self.running:
            return (0, 0)
        beat_ticks = TICKS_PER_BEAT * 4 / self.meter.unit
        beat = max(0, int(self.tick_at(t + 1e-4) // beat_ticks))
        bar, b = divmod(beat, self.meter.beats)
        return (bar + 1, b + 1)
