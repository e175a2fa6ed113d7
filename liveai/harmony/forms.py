"""Recognising a song's progression from its melody, as a band does ("it's a 12-bar blues").

Most songs loop one of a few progressions: the 12-bar blues, I-V-vi-IV, I-vi-IV-V, ii-V-I
turnarounds, the circle of fifths, the Andalusian cadence. A player who has heard a few bars of the
melody knows which one it is, in which key and where in it the tune is, and so knows the next chord
before it sounds. This module does that: every progression below, in all twelve transpositions, at
every bar of its cycle and at one or two bars per chord, is a hypothesis; each finished segment of
melody scores each hypothesis by how well the chord it predicted for that segment explains what was
played (a likelihood ratio against "no known progression", with old segments slowly forgotten, so
a new section is recognised afresh). The planner mixes the recognised progressions' next chord into
its expectation in proportion to how sure the recognition is; with no recognised form it plans as
before.

Pure logic on arrays; the planner drives it one finished segment at a time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# The progressions, one bar per "|", in Roman numerals: upper case major, lower case minor,
# "o" diminished, b/# alterations of the major scale's degrees; sevenths are written as their triads.
# Sources: the common-practice and popular progressions taught in every harmony text (e.g. the
# Open Music Theory chapters on the blues, "doo-wop" and "axis" progressions and on sequences).
FORMS: tuple[tuple[str, str], ...] = (
    ("12-bar blues", "I | I | I | I | IV | IV | I | I | V | IV | I | V"),
    ("12-bar blues, quick change", "I | IV | I | I | IV | IV | I | I | V | IV | I | V"),
    ("minor blues", "i | i | i | i | iv | iv | i | i | bVI | V | i | V"),
    ("axis I-V-vi-IV", "I | V | vi | IV"),
    ("doo-wop I-vi-IV-V", "I | vi | IV | V"),
    ("I-IV-V-I", "I | IV | V | I"),
    ("I-IV-I-V", "I | IV | I | V"),
    ("I-IV-V-IV", "I | IV | V | IV"),
    ("ii-V-I", "ii | V | I | I"),
    ("turnaround I-vi-ii-V", "I | vi | ii | V"),
    ("circle iii-vi-ii-V", "iii | vi | ii | V"),
    ("turnaround in half bars", "I vi | ii V"),
    ("doo-wop in half bars", "I vi | IV V"),
    ("Pachelbel", "I V | vi iii | IV I | IV V"),
    ("minor circle of fifths", "i | iv | bVII | bIII | bVI | iio | V | i"),
    ("Andalusian cadence", "i | bVII | bVI | V"),  # (i-bVI-bIII-bVII is the axis loop from vi)
    ("i-iv-V-i", "i | iv | V | i"),
    ("modal vamp i-bVII", "i | bVII"),
    ("mixolydian vamp I-bVII", "I | bVII"),
)

QUALITY_INDEX = {"maj": 0, "min": 1, "dim": 2}
N_CHORDS = 36  # chord index = root * 3 + quality index (major, minor, diminished triads)
_DEGREES = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}
_NUMERAL = re.compile(r"^([b#]?)(VII|VI|IV|V|III|II|I)(o?)$", re.IGNORECASE)


def parse_numeral(text: str) -> int:
    """A Roman numeral ("bVII", "ii", "iio") as a chord index above a tonic on C."""
    m = _NUMERAL.match(text.strip())
    if m is None:
        raise ValueError(f"not a Roman numeral: {text!r}")
    acc, deg, dim = m.groups()
    root = (_DEGREES[deg.upper()] + {"b": -1, "#": 1, "": 0}[acc]) % 12
    quality = "dim" if dim else "maj" if deg.isupper() else "min"
    return root * 3 + QUALITY_INDEX[quality]


def parse_form(text: str) -> list[list[int]]:
    """A form as bars of chord indices (tonic on C)."""
    return [[parse_numeral(t) for t in bar.split()] for bar in text.split("|")]


def _segments(bars: list[list[int]], segs_per_bar: int, bars_per_chord: int) -> list[int] | None:
    """The form as one chord per planning segment, or None where it does not fit (two chords in a
    bar of one segment)."""
    out: list[int] = []
    for bar in bars:
        if bars_per_chord > 1 and len(bar) > 1:
            return None
        if segs_per_bar % len(bar):
            return None
        each = segs_per_bar // len(bar) * bars_per_chord
        for c in bar:
            out += [c] * each
    return out


def transpose(chord: int, semitones: int) -> int:
    return ((chord // 3 + semitones) % 12) * 3 + chord % 3


@dataclass(frozen=True)
class FormSettings:
    """How readily a progression is recognised."""

    sharpness: float = 1.0  # how much one segment's melody says about its chord
    forget: float = 0.8  # per segment: how much of the older evidence is kept (half-life 3 segments)
    prior: float = 0.5  # belief, before any melody, that the song follows one of FORMS


class FormListener:
    """Hypotheses (form, transposition, place in the cycle) scored on the finished segments."""

    def __init__(self, segs_per_bar: int, fit: np.ndarray, settings: FormSettings | None = None) -> None:
        """fit: (36, 12) how well each chord explains a melody pitch class (the planner's emission)."""
        self.settings = settings or FormSettings()
        self.fit = fit
        table: list[int] = []
        offsets, lengths, phases, names = [], [], [], []
        for name, text in FORMS:
            bars = parse_form(text)
            for stretch in (1, 2):
                seq = _segments(bars, segs_per_bar, stretch)
                if seq is None:
                    continue
                step = segs_per_bar  # the cycle starts on a bar line
                for t in range(12):
                    off = len(table)
                    table += [transpose(c, t) for c in seq]
                    for phase in range(0, len(seq), step):
                        offsets.append(off)
                        lengths.append(len(seq))
                        phases.append(phase)
                        names.append((name, t, stretch))
        offsets_a = np.array(offsets, dtype=np.int64)
        lengths_a = np.array(lengths, dtype=np.int64)
        phases_a = np.array(phases, dtype=np.int64)
        # every hypothesis's chord at each segment of one common period (the lengths' least common
        # multiple): a step's lookup is then one row, not arithmetic over thousands of hypotheses
        self.period = int(np.lcm.reduce(np.unique(lengths_a))) if len(lengths) else 1
        rows = np.arange(self.period)[:, None]
        self.by_segment = np.array(table, dtype=np.int8)[offsets_a + (rows + phases_a) % lengths_a]
        self.names = names
        self.log_prior = float(np.log(self.settings.prior / len(offsets)))
        self.log_null = float(np.log(1.0 - self.settings.prior))
        self.reset()

    def reset(self) -> None:
        self.ll = np.zeros(self.by_segment.shape[1])
        self._weights: tuple[float, np.ndarray] | None = None  # (mass, weights), until the next segment
        self._dists: dict[int, np.ndarray] = {}
        self._last: tuple[int, np.ndarray] | None = None  # the latest segment observed, its evidence

    def chords_at(self, segment: int) -> np.ndarray:
        """The chord every hypothesis predicts for a segment (by its index from the start)."""
        return self.by_segment[segment % self.period]

    def observe(self, segment: int, heard: np.ndarray) -> None:
        """A finished segment and its melody (pitch-class weights): rescore every hypothesis."""
        self.ll *= self.settings.forget
        self._last = (segment, self._evidence(segment, heard))
        self.ll += self._last[1]
        self._weights = None
        self._dists.clear()

    def revise(self, segment: int, heard: np.ndarray) -> None:
        """The latest observed segment heard in full: the planner observes a segment at its end,
        when the melody of its last steps (inside the lookahead) is not known yet; this replaces
        that segment's evidence with the complete one."""
        if self._last is None or self._last[0] != segment:
            return
        new = self._evidence(segment, heard)
        self.ll += new - self._last[1]
        self._last = (segment, new)
        self._weights = None
        self._dists.clear()

    def _evidence(self, segment: int, heard: np.ndarray) -> np.ndarray:
        """Each hypothesis's log likelihood ratio for one segment's melody (0 for a silent one)."""
        if heard.sum() <= 0.0:
            return np.zeros_like(self.ll)
        z = self.settings.sharpness * (self.fit @ heard)
        z -= z.max()
        p = np.exp(z)
        p /= p.sum()
        return np.log(N_CHORDS * p + 1e-6)[self.chords_at(segment)]

    def expect(self, segment: int) -> tuple[float, np.ndarray]:
        """(how sure, P(chord index) over the 36 triads) for a coming segment, from the forms."""
        if self._weights is None:
            top = max(self.log_prior + float(self.ll.max()), self.log_null)
            w = np.exp(self.ll - (top - self.log_prior))
            total = float(w.sum())
            self._weights = (total / (total + np.exp(self.log_null - top)), w)
        mass, w = self._weights
        dist = self._dists.get(segment)
        if dist is None:
            dist = np.bincount(self.chords_at(segment), weights=w, minlength=N_CHORDS)
            dist = self._dists[segment] = dist / max(dist.sum(), 1e-12)
        return mass, dist

    def best(self) -> tuple[str, int, int] | None:
        """The likeliest hypothesis (name, transposition, bars per chord), for display and tests."""
        if not len(self.ll):
            return None
        return self.names[int(np.argmax(self.ll))]
