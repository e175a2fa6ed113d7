"""Pitch track to notes: the decisions a listener makes about a voice, frame by frame.

A frame is (time, f0 Hz, aperiodicity 0..1, level dBFS). The segmenter is a small state machine
with hysteresis everywhere a voice wobbles:

- voicing: a frame is voiced when it is periodic (aperiodicity under `voiced_aper`) and loud enough
  (over an absolute gate and over the tracked noise floor); a held note survives weaker frames
  (`hold_aper`, the level falling up to `release_db` under the note's peak), so quiet endings and
  a noisy moment do not chop a note; unvoiced consonants, breath and whispering are aperiodic and
  never start one;
- pitch: cents (fractional MIDI), median-smoothed over a few frames; a single-octave jump against
  the pitch of the held note or the last one is folded back (octave errors of the tracker) unless
  it persists like a real leap would;
- onset: voiced and stable (spread under `stable_cents`) for `onset_ms`; the note is where the
  pitch settles (median of the stable stretch), so a scoop or a glide into it is not a note;
- vibrato: a held note changes only when the smoothed pitch leaves its running centre by more than
  `change_cents` and settles there (+-50 cents of vibrato at 5-7 Hz stays one note);
- velocity from the level at the onset; the singer's range and key snapping bound the result.

Events are (time sent, kind, MIDI note, velocity, onset time): `onset` is the segmenter's estimate
of when the sung note began (the first voiced frame of it), which the engine gets as the message's
time, like a keyboard's key-down.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from liveai.music.theory import key_scores, parse_note

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)


@dataclass
class SegmenterSettings:
    low: int = 36  # singer's range, MIDI notes (C2..C6 by default); outside it: ignored
    high: int = 84
    snap: str = "chromatic"  # chromatic | key (nearest tone of the detected or locked key)
    onset_ms: float = 12.0  # voiced and stable this long before a note-on (the minimum note length)...
    onset_noisy_ms: float = 30.0  # ...or this long when the voice is noisy (breathy, or a noisy room)
    clean_aper: float = 0.12  # mean aperiodicity under this is a clean voice
    release_ms: float = 40.0  # unvoiced this long ends a note
    voiced_aper: float = 0.25  # aperiodicity under this starts voicing
    hold_aper: float = 0.45  # a held note continues while under this
    gate_db: float = -50.0  # absolute level gate (dBFS of the analysis window)
    floor_margin_db: float = 6.0  # over the tracked noise floor
    release_db: float = 30.0  # a note ends when the level falls this far under its peak
    stable_cents: float = 70.0  # max spread of the smoothed pitch for an onset
    trend_cents: float = 10.0  # still moving (a scoop or glide settling) if its halves differ by more
    # (10, not 25: the tail of a scoop drifts ~15-25 cents across the window and played a semitone
    # low first; at 10 the onset window could shrink 15 -> 12 ms with F1 up, not down)
    rise_ms: float = 30.0  # ...and the pitch has not moved more than rise_cents over this long:
    rise_cents: float = 90.0  # a scoop or glide still on its way (the note is where it settles)
    change_cents: float = 80.0  # a held note changes when the pitch leaves its centre by more
    settle_ms: float = 150.0  # a note whose centre settles on another semitone this soon is corrected
    median_frames: int = 3  # pitch median smoothing
    jump_cents: float = 500.0  # the smoothed pitch jumping this far in one frame is the tracker
    # switching harmonics (a voice glides, it does not leap a fourth in one 4 ms frame): the stability
    # windows restart there instead of waiting for the wrong frames to age out of them
    jump_ms: float = 50.0  # ...in the first moments of a voiced run, before a note (onset transients)
    octave_ms: float = 120.0  # an octave jump held longer than this is a real leap
    velocity_db: tuple[float, float] = (-45.0, -6.0)  # level mapped to velocity 30..120
    bridge_ms: float = 100.0  # audio missing this long or less (missed cycles) does not end a held note


@dataclass(frozen=True)
class NoteEvent:
    t: float  # when the decision was made (the frame's time)
    on: bool
    note: int
    velocity: int
    onset: float  # estimated start of the sung note (note-ons); = t for note-offs


def parse_range(text: str) -> tuple[int, int]:
    """'C3-G5' or '48-79' -> (low, high)."""
    a, sep, b = text.partition("-")
    if not sep:
        raise ValueError(f"a range is LOW-HIGH, e.g. C3-G5, not {text!r}")
    lo, hi = parse_note(a), parse_note(b)
    if lo >= hi:
        raise ValueError(f"range {text!r}: the low note must be under the high one")
    return lo, hi


def snap_pitch(midi: float, snap: str, key: tuple[int, bool] | None) -> int:
    """Nearest semitone, or nearest tone of the key (tonic pitch class, minor?)."""
    if snap != "key" or key is None:
        return int(round(midi))
    tonic, minor = key
    pcs = MINOR if minor else MAJOR
    cands = [p for p in range(int(np.floor(midi)) - 2, int(np.ceil(midi)) + 3) if (p - tonic) % 12 in pcs]
    return min(cands, key=lambda p: abs(p - midi))


class KeyEstimator:
    """The key of what was sung so far: duration-weighted pitch-class profile against the
    Krumhansl-Kessler major and minor profiles (a listener's sense of key, good after a few notes),
    by the one key finder of liveai.music.theory; a sung key has no bias towards major."""

    def __init__(self) -> None:
        self.hist = np.zeros(12)

    def add(self, note: int, weight: float = 1.0) -> None:
        self.hist *= 0.98  # recent notes count more
        self.hist[note % 12] += weight

    def key(self) -> tuple[int, bool] | None:
        if self.hist.sum() < 4:
            return None
        scores = key_scores(self.hist, minor_bias=0.0)
        return (scores[0][1].tonic, scores[0][1].minor) if scores else None


class Segmenter:
    """Feed frames in time order with `feed`; it returns the note events each frame causes."""

    def __init__(self, hop_s: float, settings: SegmenterSettings | None = None,
                 key: tuple[int, bool] | None = None) -> None:
        self.s = settings or SegmenterSettings()
        self.hop = hop_s
        self.locked_key = key
        self.keys = KeyEstimator()
        self._raw: deque[float] = deque(maxlen=max(1, self.s.median_frames))
        self._n_on = max(2, int(round(self.s.onset_ms / 1000 / hop_s)) + 1)
        n_noisy = max(self._n_on, int(round(self.s.onset_noisy_ms / 1000 / hop_s)) + 1)
        self._stable: deque[tuple[float, float, float, float]] = deque(maxlen=n_noisy)  # (t, cents, level, aper)
        self._hist: deque[tuple[float, float]] = deque(maxlen=max(4, int(self.s.rise_ms / 1000 / hop_s) + 2))
        self._run_start: float | None = None  # first voiced frame of the current voiced run
        self._unvoiced_since: float | None = None
        self.floor_db = -60.0
        self.note: int | None = None
        self._note_on_t = 0.0
        self._center = 0.0
        self._center_n = 0
        self._peak_db = -120.0
        self._last_pitch: float | None = None  # centre of the last note (octave reference)
        self._last_t = -1e9
        self._octave_since: float | None = None
        self._away_since: float | None = None

    # ------------------------------------------------------------------ helpers
    def _velocity(self, db: float) -> int:
        lo, hi = self.s.velocity_db
        return int(np.clip(30 + (db - lo) / (hi - lo) * 90, 1, 127))

    def _fold_octave(self, cents: float, t: float) -> float:
        """Fold a one-octave jump against the recent pitch back, unless it persists (a real leap)."""
        ref = self._center if self.note is not None else self._last_pitch
        if ref is None or t - self._last_t > 1.0 and self.note is None:
            self._octave_since = None
            return cents
        diff = cents - ref
        if abs(abs(diff) - 12.0) < 1.5:
            if self._octave_since is None:
                self._octave_since = t
            if t - self._octave_since < self.s.octave_ms / 1000:
                return cents - 12.0 * np.sign(diff)
            return cents
        self._octave_since = None
        return cents

    def _snap(self, midi: float) -> int:
        key = self.locked_key or (self.keys.key() if self.s.snap == "key" else None)
        return snap_pitch(midi, self.s.snap, key)

    def _off(self, t: float) -> list[NoteEvent]:
        if self.note is None:
            return []
        ev = NoteEvent(t, False, self.note, 0, t)
        self.keys.add(self.note, max(0.1, t - self._note_on_t))
        self._last_pitch = self._center
        self._last_t = t
        self.note = None
        self._away_since = None
        return [ev]

    def _on(self, t: float, cents: float, onset: float, db: float) -> list[NoteEvent]:
        note = self._snap(cents)
        if not self.s.low <= note <= self.s.high:
            return []
        self.note = note
        self._note_on_t = t
        self._onset = min(onset, t)
        self._center, self._center_n = cents, 1
        self._peak_db = db
        self._away_since = None
        return [NoteEvent(t, True, note, self._velocity(db), min(onset, t))]

    # ------------------------------------------------------------------ the frame step
    def _next_floor(self, db: float) -> float:
        """The noise floor after a frame at `db`: follows quiet frames quickly down, loud ones slowly up."""
        return self.floor_db + (db - self.floor_db) * (0.2 if db < self.floor_db else 0.002)

    def wants_pitch(self, db: float) -> bool:
        """Whether the next frame's pitch can matter: with no note held, a frame at or under the
        level gate is unvoiced whatever its pitch, so the tracker need not run (silence and breath
        between phrases cost almost nothing). feed(t, 0.0, 1.0, db) then gives the same events."""
        if self.note is not None:
            return True
        return db > self.s.gate_db and db > self._next_floor(db) + self.s.floor_margin_db

    def feed(self, t: float, f0: float, aper: float, db: float) -> list[NoteEvent]:
        s = self.s
        self.floor_db = self._next_floor(db)
        loud = db > s.gate_db and db > self.floor_db + s.floor_margin_db
        if self.note is None:
            voiced = f0 > 0 and aper < s.voiced_aper and loud
        else:
            voiced = (f0 > 0 and aper < s.hold_aper and db > s.gate_db - 6
                      and db > self._peak_db - s.release_db)
        events: list[NoteEvent] = []
        if not voiced:
            self._raw.clear()
            self._stable.clear()
            self._hist.clear()
            self._run_start = None
            if self._unvoiced_since is None:
                self._unvoiced_since = t
            if self.note is not None and (t - self._unvoiced_since >= s.release_ms / 1000
                                          or db <= self._peak_db - s.release_db):
                events += self._off(self._unvoiced_since if db > self._peak_db - s.release_db else t)
            return events
        self._unvoiced_since = None
        if self._run_start is None:
            self._run_start = t
        cents = 69.0 + 12.0 * math.log2(f0 / 440.0)
        cents = self._fold_octave(cents, t)
        self._raw.append(cents)
        sm = _median(self._raw)
        if (self._stable and self.note is None and t - self._run_start <= s.jump_ms / 1000
                and abs(sm - self._stable[-1][1]) * 100 > s.jump_cents):
            self._stable.clear()
            self._hist.clear()
        self._stable.append((t, sm, db, aper))
        clean = len(self._stable) >= self._n_on and all(
            a < s.clean_aper for *_, a in list(self._stable)[-self._n_on:])
        n = self._n_on if clean else self._stable.maxlen
        win = list(self._stable)[-n:]
        pts = [c for _, c, _, _ in win]
        full = len(self._stable) >= n
        half = len(pts) // 2
        self._hist.append((t, sm))
        back = self._hist[0]
        stable = (full and (max(pts) - min(pts)) * 100 <= s.stable_cents
                  and abs(sum(pts[-half:]) - sum(pts[:half])) / half * 100 <= s.trend_cents
                  and abs(sm - back[1]) * 100 <= s.rise_cents)  # over rise_ms, or since the voice began
        mid = _median(pts)
        if self.note is None:
            if stable:
                onset = self._run_start if self._last_t < self._run_start else win[0][0]
                events += self._on(t, mid, onset, max(w[2] for w in win))
            return events
        # a note is held
        self._peak_db = max(self._peak_db, db)
        if abs(sm - self._center) * 100 > s.change_cents:
            if self._away_since is None:
                self._away_since = win[-1][0]
            if stable and abs(mid - self._center) * 100 > s.change_cents:
                new = self._snap(mid)
                if new != self.note:
                    onset = self._away_since
                    events += self._off(min(onset, t))  # legato: the old note ends where the new begins
                    events += self._on(t, mid, onset, db)
                    return events
        else:
            self._away_since = None
            # the running centre of a held note (vibrato averages out)
            self._center_n += 1
            self._center += (sm - self._center) / min(self._center_n, 40)
            if t - self._note_on_t <= s.settle_ms / 1000 and stable:
                new = self._snap(self._center)
                if new != self.note and abs(self._center - self.note) > 0.6:
                    onset, center, n = self._onset, self._center, self._center_n
                    events += self._off(t)
                    events += self._on(t, center, onset, db)
                    self._center_n = n
        return events

    def gap(self, t: float, seconds: float) -> list[NoteEvent]:
        """Audio missing from t for `seconds` (the input missed cycles under load): nothing was
        heard, neither voice nor silence, so a held note goes on through a short gap, as a
        listener hears through a click. A longer one ends the held note where the audio stopped,
        and no onset is built from frames on both sides of it."""
        if seconds <= self.s.bridge_ms / 1000:
            return []
        self._raw.clear()
        self._stable.clear()
        self._hist.clear()
        self._run_start = self._unvoiced_since = None
        return self._off(t)

    def flush(self, t: float) -> list[NoteEvent]:
        return self._off(t)


def _median(xs) -> float:
    v = sorted(xs)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def notes_from_events(events: list[NoteEvent]) -> list[tuple[int, float, float, float]]:
    """(note, onset estimate, end, time the note-on was decided) from an event list."""
    out, open_ = [], {}
    for e in events:
        if e.on:
            open_[e.note] = e
        elif e.note in open_:
            on = open_.pop(e.note)
            out.append((on.note, on.onset, e.t, on.t))
    for on in open_.values():
        out.append((on.note, on.onset, on.onset, on.t))
    return sorted(out, key=lambda n: n[1])
