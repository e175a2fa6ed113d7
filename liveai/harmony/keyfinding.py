"""The key of a melody heard so far: a likelihood over the 24 keys (one key finder for the planner
and the chord model's anchor)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from liveai.music.notes import STEPS_PER_BEAT, PlayerNote
from liveai.music.theory import Key

_KEYS = [Key(t, m) for t in range(12) for m in (False, True)]
_TONIC_TRIADS = np.array([[1.0 if (pc - k.tonic) % 12 in ((0, 3, 7) if k.minor else (0, 4, 7)) else 0.0
                           for pc in range(12)] for k in _KEYS])


_LOG_PROFILES = None


def _log_profiles() -> np.ndarray:
    global _LOG_PROFILES  # a constant table, built once
    if _LOG_PROFILES is None:
        from liveai.music.theory import MAJOR_PROFILE, MINOR_PROFILE
        rows = [np.roll(MINOR_PROFILE if k.minor else MAJOR_PROFILE, k.tonic) for k in _KEYS]
        prof = np.array(rows)
        _LOG_PROFILES = np.log(prof / prof.sum(axis=1, keepdims=True))
    return _LOG_PROFILES


def melody_key(notes: Sequence[PlayerNote], now_step: int, previous: Key | None = None,
               margin: float = 0.5) -> Key | None:
    """The key of a melody as a likelihood: each note's pitch class drawn from the key's
    Krumhansl-Kessler profile (normalised to probabilities), weighted by duration and decayed,
    plus how much of the melody's accented weight (the first note, notes on beats) falls on the
    key's tonic triad, and a small prior for major. Unlike a correlation, a likelihood is sane
    after three notes: F#, G, A is D major, not F# major."""
    if not notes:
        return previous
    h = np.zeros(12)
    acc = np.zeros(12)
    for i, n in enumerate(notes[-64:]):
        end = n.end_step if n.end_step is not None else now_step + 1
        dur = max(1, min(end, now_step + 1) - n.start_step)
        age = max(0, now_step - n.start_step)
        decay = 0.5 ** (age / 128.0)
        h[n.pitch % 12] += min(dur, 8) / 4.0 * decay
        a = (2.0 if n is notes[0] else 0.0) + (1.0 if n.start_step % STEPS_PER_BEAT == 0 else 0.3) \
            + (1.0 if dur >= 8 else 0.0)  # long notes close phrases, mostly on the tonic triad
        acc[n.pitch % 12] += a * decay
    ll = _log_profiles() @ h
    ll += 2.5 * (_TONIC_TRIADS @ acc) / max(acc.sum(), 1e-9)
    ll -= np.array([0.3 if k.minor else 0.0 for k in _KEYS])
    i = int(np.argmax(ll))
    best = _KEYS[i]
    # hysteresis once the key has evidence (a dozen notes); early guesses move freely
    settled = min(1.0, len(notes) / 12.0)
    if previous is not None and best != previous and ll[i] - ll[_KEYS.index(previous)] < margin * settled:
        return previous
    return best


# segments a bar each harmonic rhythm gives in the usual meters (3/4 and 4/4; 6/8 and 2/2 alike)
