"""The musical grid: the meter, and ticks and steps per beat (what tunes, styles and the transport share).

Pure data with no clock: music/ sits below timing/, which maps this grid onto seconds.
"""
from __future__ import annotations

from dataclasses import dataclass

from liveai.music.notes import STEPS_PER_BEAT

TICKS_PER_BEAT = 480
STEP_TICKS = TICKS_PER_BEAT // STEPS_PER_BEAT


@dataclass(frozen=True, slots=True)
class Meter:
    beats: int = 4
    unit: int = 4  # the note value of a beat; steps per bar follow from beats and unit

    @classmethod
    def parse(cls, text: str) -> "Meter":
        """'3/4' -> Meter(3, 4). Raises ValueError with a clear message."""
        try:
            a, b = text.split("/")
            m = cls(int(a), int(b))
        except ValueError:
            raise ValueError(f"meter must look like 4/4 or 3/4, not {text!r}") from None
        if not 1 <= m.beats <= 32 or m.unit not in (2, 4, 8, 16):
            raise ValueError(f"unsupported meter {text!r}")
        return m

    @property
    def steps_per_bar(self) -> int:
        return self.beats * 16 // self.unit

    def __str__(self) -> str:
        return f"{self.beats}/{self.unit}"
