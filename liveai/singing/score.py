"""Scoring transcribed notes against the truth: note F1 (onset within a tolerance and the same
MIDI note), octave errors, and the delay of each note-on after the true onset."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class NoteScore:
    truth: int
    detected: int
    matched: int
    octave_errors: int  # true notes met by a detection an octave (or two) off, within the onset tolerance
    onset_bias: float  # mean (estimated onset - true onset) of matched notes, s
    delays: list[float]  # note-on decision time - true onset, matched notes, s

    @property
    def precision(self) -> float:
        return self.matched / self.detected if self.detected else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, o: "NoteScore") -> "NoteScore":
        n = self.matched + o.matched
        bias = (self.onset_bias * self.matched + o.onset_bias * o.matched) / n if n else 0.0
        return NoteScore(self.truth + o.truth, self.detected + o.detected, n,
                         self.octave_errors + o.octave_errors, bias, self.delays + o.delays)


def score_notes(truth: list[tuple[int, float]], detected: list[tuple[int, float, float]],
                tol: float = 0.05) -> NoteScore:
    """truth: (note, onset); detected: (note, onset estimate, decision time). Greedy one-to-one
    matching by onset distance."""
    used: set[int] = set()
    matched, octave, bias, delays = 0, 0, [], []
    for note, onset in truth:
        best, bd = None, tol + 1e-9
        for j, (dn, don, _) in enumerate(detected):
            if j not in used and dn == note and abs(don - onset) <= bd:
                best, bd = j, abs(don - onset)
        if best is not None:
            used.add(best)
            matched += 1
            bias.append(detected[best][1] - onset)
            delays.append(detected[best][2] - onset)
        elif any(abs(don - onset) <= tol and dn != note and (dn - note) % 12 == 0
                 for dn, don, _ in detected):
            octave += 1
    return NoteScore(len(truth), len(detected), matched, octave,
                     float(np.mean(bias)) if bias else 0.0, delays)
