"""The chord model as the planner hears it: fed the melody frame by frame, asked for a segment.

The planner does not import the runtime (liveai.neural.chordmodel): it is handed a model object
with reset(), step(pitch, onset, pos, steps_per_bar, played), peek(...), probs [HORIZONS, classes]
and bass [HORIZONS, 12]. This module turns the player's notes into the model's frames (in order,
each frame once, only frames whose input is complete) and the model's per-frame probabilities into
what a band needs: how likely each triad is over the steps a chord will be held, and which chord
of that triad (seventh, sus, slash bass) to voice.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from liveai.harmony.chordvocab import QUALITIES, TRIAD_GROUP, TRIAD_OF_CLASS, index_chord, chord_index
from liveai.harmony.keyfinding import melody_key
from liveai.music.notes import STEPS_PER_BEAT, PlayerNote
from liveai.music.theory import ChordSymbol, Key

KEY_NOTES = 64  # the latest melody notes the anchor's key is found from

MAX_CATCH_UP = 64  # frames fed at most in one call (a long gap is heard as its last four bars)


def melody_frame(melody: Sequence[PlayerNote], f: int) -> tuple[int | None, bool]:
    """The melody at frame f: the top pitch sounding (None: rest) and whether a note starts there."""
    top, onset = None, False
    for n in melody[-24:]:
        if n.start_step > f:
            continue
        if n.start_step == f:
            onset = True
        if n.end_step is None or n.end_step > f:
            if top is None or n.pitch > top:
                top = n.pitch
    return top, onset


def anchor_of(key: Key | None) -> int:
    """The chord model's reference pitch class for a key: its tonic, or its relative major's."""
    if key is None:
        return 0
    return (key.tonic + 3) % 12 if key.minor else key.tonic % 12


def next_key(melody: Sequence[PlayerNote], f: int, previous: Key | None) -> Key | None:
    """The key after frame f, updated on beats from the notes begun by f (the same in training
    and on stage, so the model always hears the melody relative to the key it was taught with)."""
    if f % STEPS_PER_BEAT:
        return previous
    notes = [n for n in melody[-KEY_NOTES - 8:] if n.start_step <= f][-KEY_NOTES:]
    return melody_key(notes, f, previous) if notes else previous


def key_anchors(notes: Sequence[PlayerNote], T: int) -> np.ndarray:
    """The anchor of every frame 0..T-1 of a song (training: the notes with their ends)."""
    out = np.zeros(T, np.int64)
    key: Key | None = None
    j = 0
    for f in range(T):
        if f % STEPS_PER_BEAT == 0:
            while j < len(notes) and notes[j].start_step <= f:
                j += 1
            window = notes[max(0, j - KEY_NOTES):j]
            # as the planner sees them: a note not yet ended is still sounding
            window = [n if n.end_step is None or n.end_step <= f + 1 else PlayerNote(n.pitch, n.velocity, n.start_step)
                      for n in window]
            if window:
                key = melody_key(window, f, key)
        out[f] = anchor_of(key)
    return out


class ModelEars:
    """Feeds a chord model the player's frames and answers the planner's questions."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.reset()

    def reset(self) -> None:
        self.model.reset()
        self.next_frame = 0  # the first frame not yet heard
        self.key: Key | None = None  # the key the model's anchor follows
        self._peek: tuple[int, np.ndarray] | None = None  # (frame, probs) of a note not yet complete

    @property
    def last(self) -> int:
        return self.next_frame - 1

    def hear(self, melody: Sequence[PlayerNote], known_until: int, steps_per_bar: int,
             played: ChordSymbol | None = None) -> None:
        """Step the model through the frames up to known_until (complete input), each once."""
        if known_until < self.next_frame:
            return
        first = max(self.next_frame, known_until - MAX_CATCH_UP + 1)
        cls = chord_index(played) if played is not None else None
        for f in range(first, known_until + 1):
            pitch, onset = melody_frame(melody, f)
            self.key = next_key(melody, f, self.key)
            self.model.step(pitch, onset, f % steps_per_bar, steps_per_bar, cls, anchor_of(self.key))
        self.next_frame = known_until + 1
        self._peek = None

    def peek(self, melody: Sequence[PlayerNote], frame: int, steps_per_bar: int) -> None:
        """Hear frame (a note just struck, its frame not complete) without keeping it: the next
        questions are answered as if it were the latest frame, until the next hear()."""
        pitch, onset = melody_frame(melody, frame)
        self._peek = (frame, self.model.peek(pitch, onset, frame % steps_per_bar, steps_per_bar,
                                             anchor=anchor_of(self.key)))

    def class_probs(self, start: int, end: int) -> np.ndarray:
        """Summed probability of each class over frames [start, end) (a chord held that long is
        right on that many frames in expectation)."""
        if self._peek is not None:
            last, probs = self._peek
        else:
            last, probs = self.last, self.model.probs
        rows = np.clip(np.arange(start, max(end, start + 1)) - last, 0, probs.shape[0] - 1)
        return probs[rows].sum(axis=0, dtype=np.float64) / max(1, end - start)

    def triads(self, start: int, end: int) -> np.ndarray:
        """P(triad) over frames [start, end), in liveai.harmony.forms's order (root * 3 + maj/min/dim)."""
        return self.class_probs(start, end) @ TRIAD_GROUP

    def voiced(self, triad: ChordSymbol, start: int, end: int, bass_share: float = 0.6) -> ChordSymbol:
        """The chord of this triad the model expects (a seventh, a sus, a slash bass) when it is
        at least as likely as the plain triad; else the triad itself."""
        p = self.class_probs(start, end)
        t = triad.root * 3 + {"maj": 0, "min": 1, "dim": 2}.get(triad.quality, 0)
        members = np.nonzero(TRIAD_OF_CLASS == t)[0]
        if len(members) == 0:
            return triad
        best = int(members[np.argmax(p[members])])
        chord = index_chord(best)
        if chord is None or chord.root != triad.root:
            return triad
        if self._peek is None:
            d = min(max(start - self.last, 0), self.model.bass.shape[0] - 1)
            b = self.model.bass[d]
            e = np.exp(b - b.max())
            e /= e.sum()
            k = int(np.argmax(e))
            if k and e[k] >= bass_share:
                chord = ChordSymbol(chord.root, chord.quality, (chord.root + k) % 12)
        return chord


__all__ = ["ModelEars", "melody_frame", "QUALITIES"]
