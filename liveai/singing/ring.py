"""The ring between an audio callback and the analysis thread: lock-free (one writer, one reader,
each state change one assignment), and aware of the source's frame counter, so that a cycle the
callback missed is a hole the analysis is told of, not a splice it cannot see (issue 25)."""
from __future__ import annotations

import time
from collections import deque

import numpy as np


class RingBuffer:
    """Single producer (the audio callback), single consumer (the analysis thread). `written` is
    the count of samples ever written and `stamp` the (count, time) of the newest block, each
    replaced by one assignment: the reader never sees a half-written state.

    A source with a frame counter (JACK) passes each block's first frame: a cycle the callback
    missed (an xrun on a loaded machine) is then a hole, noted in `holes` as (written position,
    samples missing before it) and counted in `dropped`, and a block delivered twice is not written
    again (`repeated`). Without that the ring spliced the audio on either side of a missed cycle
    as if it were continuous: the analysis saw a waveform that was never sung, and every sample
    before the splice was stamped that much late."""

    FRAME_MOD = 1 << 32  # JACK's frame counter is 32 bits and wraps

    def __init__(self, seconds: float, sr: float) -> None:
        self.size = 1 << int(np.ceil(np.log2(max(1024, seconds * sr))))
        self.buf = np.zeros(self.size, dtype=np.float32)
        self.written = 0
        self.stamp: tuple[int, float] = (0, 0.0)
        self.clock = time.perf_counter
        self.next_frame: int | None = None  # the source frame the next sample should have
        self.dropped = 0  # samples the source never delivered (frame counter jumped ahead)
        self.repeated = 0  # samples delivered again (frame counter went back): not written twice
        self.holes: deque[tuple[int, int]] = deque(maxlen=1024)  # (written position, samples missing before it)

    def write(self, block: np.ndarray, frame: int | None = None) -> None:
        """Audio thread: copy, advance, stamp. One or two slice copies, and with a frame counter
        an integer comparison: a missed cycle is noted, a repeated one skipped."""
        if frame is not None:
            if self.next_frame is not None:
                ahead = (frame - self.next_frame) % self.FRAME_MOD
                if ahead >= self.FRAME_MOD // 2:  # behind: all or part of the block was written already
                    back = self.FRAME_MOD - ahead
                    self.repeated += min(back, len(block))
                    if back >= len(block):
                        return
                    block, frame = block[back:], frame + back
                elif ahead:
                    self.holes.append((self.written, ahead))
                    self.dropped += ahead
            self.next_frame = (frame + len(block)) % self.FRAME_MOD
        n = len(block)
        i = self.written & (self.size - 1)
        k = min(n, self.size - i)
        self.buf[i:i + k] = block[:k]
        if k < n:
            self.buf[:n - k] = block[k:]
        self.written += n
        self.stamp = (self.written, self.clock())

    def read(self, since: int) -> tuple[np.ndarray, int, float, int]:
        """(samples written after `since`, new position, time of the newest sample, samples lost
        because the reader fell more than the ring's length behind)."""
        end, t = self.stamp
        lost = max(0, end - since - self.size)
        start = since + lost
        n = end - start
        if n <= 0:
            return np.zeros(0, dtype=np.float32), since, t, 0
        i = start & (self.size - 1)
        k = min(n, self.size - i)
        out = np.empty(n, dtype=np.float32)
        out[:k] = self.buf[i:i + k]
        if k < n:
            out[k:] = self.buf[:n - k]
        return out, end, t, lost

    def holes_in(self, start: int, end: int) -> list[tuple[int, int]]:
        """The holes before samples start..end-1 (written positions), oldest first."""
        return [h for h in tuple(self.holes) if start <= h[0] < end]
