"""What the sender process holds: MIDI messages by due time, each tagged with the step it belongs to.

Why steps: the engine hands a step over ahead of its time (liveai.io.sender), yet a chord the player
strikes just before the beat must still replace what was planned, in place and with no flam
(liveai.engine.unsent). So a step is rewritten whole, or not at all: `replace` swaps every message
of the named steps if none of them has gone out yet, and says False otherwise, so the engine knows
which events really sounded. Pure: no I/O, no clock; the sender loop asks it what is due.
"""
from __future__ import annotations

import heapq
from collections import deque
from typing import Iterable

NO_STEP = 0  # a message that belongs to no amendable step (clock pulses, a send with no step)
SENT_MEMORY = 4096  # how many sent step ids are remembered (steps are due a few ms to a second apart)


class DueQueue:
    """A heap of [due, seq, message, step, alive]; a replaced message is marked dead, not searched for."""

    def __init__(self) -> None:
        self._heap: list[list] = []
        self._seq = 0
        self._live: dict[int, list[list]] = {}  # step -> its entries still queued
        self._sent: set[int] = set()
        self._sent_order: deque[int] = deque()

    def __len__(self) -> int:
        return sum(1 for e in self._heap if e[4])

    def push(self, due: float, step: int, msg: list[int]) -> None:
        self._seq += 1
        entry = [due, self._seq, msg, step, True]
        heapq.heappush(self._heap, entry)
        if step != NO_STEP:
            self._live.setdefault(step, []).append(entry)

    def due(self) -> float | None:
        """The earliest due time still queued (None: nothing)."""
        heap = self._heap
        while heap and not heap[0][4]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop(self) -> tuple[float, list[int]]:
        """The earliest message (call due() first); its step counts as sent from now on."""
        self.due()
        entry = heapq.heappop(self._heap)
        entry[4] = False
        due, _, msg, step, _ = entry
        if step != NO_STEP:
            self._mark_sent(step)
            rest = self._live.get(step)
            if rest is not None:
                rest[:] = [e for e in rest if e[4]]
                if not rest:
                    del self._live[step]
        return due, msg

    def _mark_sent(self, step: int) -> None:
        if step in self._sent:
            return
        self._sent.add(step)
        self._sent_order.append(step)
        if len(self._sent_order) > SENT_MEMORY:
            self._sent.discard(self._sent_order.popleft())

    def replace(self, steps: dict[int, Iterable[tuple[float, list[int]]]], now: float | None = None) -> bool:
        """Every message of each step in `steps` replaced by the given (due, message) pairs, all or
        nothing: False (and nothing changed) if any of those steps has begun to go out, or (given
        `now`) is due already: a rewrite that arrives late, or a step that had no messages, is
        refused rather than sent late."""
        steps = {s: list(m) for s, m in steps.items()}
        if any(s in self._sent for s in steps):
            return False
        if now is not None and any(d <= now for msgs in steps.values() for d, _ in msgs):
            return False
        if now is not None and any(e[0] <= now for s in steps for e in self._live.get(s, ())):
            return False
        for step, msgs in steps.items():
            for e in self._live.pop(step, ()):
                e[4] = False
            for due, msg in msgs:
                self.push(due, step, msg)
        return True

    def clear(self) -> None:
        """Everything queued dropped (a panic, a stop): what was queued never counts as sent."""
        self._heap.clear()
        self._live.clear()

    def remaining(self) -> list[list[int]]:
        """The messages still queued, in due order (at the end: their note-offs must go out)."""
        return [e[2] for e in sorted(self._heap) if e[4]]
