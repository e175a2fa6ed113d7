"""Tunes with annotated chords, for measuring accompaniment (issue 13), and their MIDI files.

Each tune is data as a musician writes a lead sheet: a melody ("pitch duration" in 16th steps, R
for a rest) and a chord symbol per bar, half bar or beat ("G | D | C D | G": a bar's chords share
it evenly; "Dm:2 A7:1" gives beats explicitly). All melodies were written for liveai (public
domain): chord tones on the strong beats, passing and neighbour notes between.

Every tune renders to a standard MIDI file in two variants: the melody alone, and the melody with
left-hand block chords (octave 3, struck at each chord change and held, voiced as a pianist would:
root position or the nearest inversion). The true chords travel inside the file as marker meta
events (text = chord name) at each chord change, so a file carries its own annotation;
read_chord_markers reads them back.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import mido

from liveai.evaluation.harmony import Note
from liveai.music.tunes import parse_melody, pitch
from liveai.music.theory import LETTER_PCS, NOTE_NAMES, QUALITIES, ChordSymbol, close_voicing

PPQ = 480
STEP_TICKS = PPQ // 4
VARIANTS = ("melody", "chords")
"""melody: the melody alone; chords: the melody with left-hand block chords."""

_LETTERS = LETTER_PCS
_SUFFIX = {suffix: q for q, (_, suffix) in QUALITIES.items()}
_SUFFIX.update({"maj": "maj", "min": "min", "M7": "maj7", "-": "min", "-7": "m7", "ø": "m7b5",
                "o": "dim", "o7": "dim7", "mMaj7": "mmaj7"})


def parse_chord(text: str) -> ChordSymbol:
    """'F#m7' -> ChordSymbol(6, 'm7'); 'C/E' -> ChordSymbol(0, 'maj', bass=4). The suffixes are
    those of liveai.music.theory.QUALITIES (the names ChordSymbol.name writes) and a few common
    spellings."""
    t = text.strip()
    main, _, slash = t.partition("/")

    def root_of(s: str) -> tuple[int, str]:
        if not s or s[0] not in _LETTERS:
            raise ValueError(f"bad chord symbol {text!r}")
        r, i = _LETTERS[s[0]], 1
        while i < len(s) and s[i] in "#b":
            r += 1 if s[i] == "#" else -1
            i += 1
        return r % 12, s[i:]

    root, suffix = root_of(main)
    if suffix not in _SUFFIX:
        raise ValueError(f"unknown chord quality {suffix!r} in {text!r}")
    bass = root_of(slash)[0] if slash else None
    if slash and root_of(slash)[1]:
        raise ValueError(f"bad bass note in {text!r}")
    return ChordSymbol(root, _SUFFIX[suffix], bass)


@dataclass(frozen=True)
class AnnotatedTune:
    """A melody with its true chords. tonic/minor describe the key (for the tonic drone)."""

    key: str  # short name, used on the command line and in file names
    title: str
    beats: int  # beats per bar (quarter-note beats)
    tempo: float
    tonic: int  # pitch class
    minor: bool
    melody: str
    chords: str

    @property
    def steps_per_bar(self) -> int:
        return self.beats * 4

    @property
    def beat_steps(self) -> int:
        return 4

    @property
    def meter(self) -> str:
        return f"{self.beats}/4"

    @cached_property
    def notes(self) -> list[Note]:
        """The melody as grid notes (part 'melody')."""
        try:
            items = parse_melody(self.melody)
        except ValueError as e:
            raise ValueError(f"{self.key}: {e}") from None
        return [Note(p, start, start + d, "melody") for p, start, d in items if p is not None]

    @cached_property
    def segments(self) -> list[tuple[int, int, ChordSymbol]]:
        """(start, end, chord) of every chord symbol, in steps."""
        out, bar_start = [], 0
        for bar in self.chords.split("|"):
            items = bar.split()
            if not items:
                raise ValueError(f"{self.key}: empty bar in chords")
            given = [(it.partition(":")[0], it.partition(":")[2]) for it in items]
            if any(b for _, b in given):
                beats = [int(b) if b else 1 for _, b in given]
            else:
                if self.beats % len(items):
                    raise ValueError(f"{self.key}: {len(items)} chords do not share a {self.beats}-beat bar")
                beats = [self.beats // len(items)] * len(items)
            if sum(beats) != self.beats:
                raise ValueError(f"{self.key}: bar {bar!r} has {sum(beats)} beats, not {self.beats}")
            s = bar_start
            for (sym, _), b in zip(given, beats):
                out.append((s, s + 4 * b, parse_chord(sym)))
                s += 4 * b
            bar_start += self.steps_per_bar
        return out

    @property
    def total_steps(self) -> int:
        return self.segments[-1][1]

    def chord_steps(self) -> list[ChordSymbol]:
        """The true chord at every step."""
        out: list[ChordSymbol] = []
        for s, e, ch in self.segments:
            out.extend([ch] * (e - s))
        return out

    def left_hand(self) -> list[Note]:
        """Block chords in octave 3, struck on each chord change and held until the next: root
        position for the first chord, then the inversion nearest the previous chord (the chord's
        own tones, sevenths included; a slash chord's bass at the bottom)."""
        out: list[Note] = []
        prev: list[int] | None = None
        segs = self.segments
        merged: list[tuple[int, int, ChordSymbol]] = []
        for s, e, ch in segs:  # a repeated symbol is held, not struck again
            if merged and merged[-1][2] == ch:
                merged[-1] = (merged[-1][0], e, ch)
            else:
                merged.append((s, e, ch))
        for s, e, ch in merged:
            voicing = _voice(ch, prev)
            out += [Note(p, s, e, "left hand") for p in voicing]
            prev = voicing
        return out

    def player(self, variant: str) -> list[Note]:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
        return self.notes + (self.left_hand() if variant == "chords" else [])

    def markers(self) -> list[tuple[int, ChordSymbol]]:
        """(step, chord) at every chord change."""
        out: list[tuple[int, ChordSymbol]] = []
        for s, _, ch in self.segments:
            if not out or out[-1][1] != ch:
                out.append((s, ch))
        return out

    def write_midi(self, path: str | Path, variant: str = "melody") -> Path:
        """The tune as a MIDI file with its chord markers (see write_midi)."""
        hands = [("melody", self.notes)]
        if variant == "chords":
            hands.append(("left hand", self.left_hand()))
        elif variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
        return write_midi(path, self.title, self.beats, self.tempo, hands, self.markers(), self.total_steps)


def write_midi(path: str | Path, title: str, beats: int, tempo: float, hands: list[tuple[str, list[Note]]],
               markers: list[tuple[int, ChordSymbol]], total: int) -> Path:
    """A type-1 MIDI file: a conductor track (tempo, meter, one marker per chord change, text =
    chord name), then one track per hand, all on channel 0 (as one keyboard sends them). Step 0
    must hold a note: the demo starts its grid on the file's first note."""
    mf = mido.MidiFile(type=1, ticks_per_beat=PPQ)
    cond = mido.MidiTrack()
    cond.append(mido.MetaMessage("track_name", name=title, time=0))
    cond.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0))
    cond.append(mido.MetaMessage("time_signature", numerator=beats, denominator=4, time=0))
    last = 0
    for s, ch in markers:
        cond.append(mido.MetaMessage("marker", text=ch.name, time=s * STEP_TICKS - last))
        last = s * STEP_TICKS
    cond.append(mido.MetaMessage("end_of_track", time=max(0, total * STEP_TICKS - last)))
    mf.tracks.append(cond)
    for name, notes in hands:
        tr = mido.MidiTrack()
        tr.append(mido.MetaMessage("track_name", name=name, time=0))
        evs = []
        for n in notes:
            vel = 90 if n.start % 4 == 0 else 76
            evs.append((n.start * STEP_TICKS, 1, mido.Message("note_on", note=n.pitch, velocity=vel)))
            evs.append((n.end * STEP_TICKS, 0, mido.Message("note_off", note=n.pitch, velocity=0)))
        evs.sort(key=lambda e: (e[0], e[1]))
        t = 0
        for tick, _, msg in evs:
            tr.append(msg.copy(time=tick - t))
            t = tick
        mf.tracks.append(tr)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mf.save(str(path))
    return path


def _voice(ch: ChordSymbol, prev: list[int] | None) -> list[int]:
    """Close voicings of the chord with every note in 41..60 (a left hand below the melody):
    the root position one nearest C3 for the first chord, then the one nearest the previous."""
    pcs = list(ch.pcs)
    bass_pc = ch.bass if ch.bass is not None else None
    cands = []
    for inv in range(len(pcs)):
        order = pcs[inv:] + pcs[:inv]
        if bass_pc is not None and order[0] != bass_pc:
            continue
        for base in range(36, 60):
            if base % 12 != order[0]:
                continue
            v = close_voicing(base, order)
            if v[0] >= 41 and v[-1] <= 60:
                cands.append((inv, v))
    if bass_pc is not None and bass_pc not in pcs and cands == []:
        raise ValueError(f"cannot voice {ch.name}")
    if not cands:  # a slash bass outside the chord: bass below a root-position chord
        raise ValueError(f"cannot voice {ch.name} in the left-hand range")
    if prev is None:
        root_pos = [v for inv, v in cands if inv == 0] or [v for _, v in cands]
        return min(root_pos, key=lambda v: abs(v[0] - 48))
    pm = sum(prev) / len(prev)
    return min((v for _, v in cands), key=lambda v: (sum(min(abs(p - q) for q in prev) for p in v),
                                                     abs(sum(v) / len(v) - pm)))


def read_chord_markers(path: str | Path) -> tuple[list[tuple[int, ChordSymbol]], int, int]:
    """The chord markers of a MIDI file: ([(step, chord), ...], steps per bar, length in steps).
    Steps count 16ths from the file's first note-on (the step the demo calls 0)."""
    mf = mido.MidiFile(str(path))
    q = mf.ticks_per_beat / 4
    marks: list[tuple[int, str]] = []
    first_on = None
    beats, unit = 4, 4
    end = 0
    for tr in mf.tracks:
        t = 0
        for msg in tr:
            t += msg.time
            if msg.type == "marker":
                marks.append((t, msg.text))
            elif msg.type == "time_signature" and t == 0:
                beats, unit = msg.numerator, msg.denominator
            elif msg.type == "note_on" and msg.velocity > 0:
                first_on = t if first_on is None else min(first_on, t)
        end = max(end, t)
    t0 = first_on or 0
    out = [(int(round((t - t0) / q)), parse_chord(text)) for t, text in sorted(marks, key=lambda m: m[0])]
    return out, beats * 16 // unit, int(round((end - t0) / q))


def chords_from_markers(marks: list[tuple[int, ChordSymbol]], total: int) -> list[ChordSymbol | None]:
    """Per-step chords from (step, chord) markers: each holds until the next (None before the first)."""
    out: list[ChordSymbol | None] = [None] * total
    for i, (s, ch) in enumerate(marks):
        e = marks[i + 1][0] if i + 1 < len(marks) else total
        for k in range(max(0, s), min(e, total)):
            out[k] = ch
    return out


# --------------------------------------------------------------------------- the tunes

TUNES_LIST = [
    AnnotatedTune(
        "pop-g", "Morning Lane: pop I-V-vi-IV, G major, 4/4", 4, 104.0, 7, False,
        """B4 4, D5 4, G4 4, A4 2, B4 2, A4 4, F#4 4, D5 6, C5 2, B4 4, G4 4, E5 4, D5 4,
        C5 4, E5 4, G5 6, E5 2, D5 4, B4 2, C5 2, D5 4, G5 4, F#5 4, E5 2, D5 2, A4 8,
        G4 2, A4 2, B4 4, E5 4, B4 4, C5 4, A4 4, G4 8, B4 4, D5 4, G5 4, D5 4,
        F#5 4, E5 4, D5 4, A4 4, E5 4, C5 4, D5 4, A4 4, B4 4, G4 12""",
        "G | D | Em | C | G | D | Em | C | G | D | C D | G"),
    AnnotatedTune(
        "blues-c", "Backstreet Shuffle: 12-bar blues with dominant sevenths, C, 4/4", 4, 112.0, 0, False,
        """C5 4, Eb5 2, E5 2, G5 4, E5 4, F5 4, Eb5 4, C5 4, A4 4, G4 4, Bb4 4, C5 2, D5 2, E5 4,
        C5 12, R 4, A4 4, C5 4, Eb5 4, F5 4, Eb5 4, D5 2, C5 2, A4 8,
        G4 4, E4 4, G4 2, A4 2, Bb4 4, C5 8, G4 4, Bb4 4, B4 4, D5 4, F5 4, D5 4,
        C5 4, A4 4, F4 4, Eb4 4, E4 4, G4 4, C5 4, Bb4 2, A4 2, G4 4, B4 4, D5 4, F5 4, E5 16""",
        "C7 | F7 | C7 | C7 | F7 | F7 | C7 | C7 | G7 | F7 | C7 | G7 | C7"),
    AnnotatedTune(
        "jazz-f", "Late Reply: 16-bar standard with ii-V-I sevenths, F major, 4/4", 4, 120.0, 5, False,
        """F5 4, D5 2, Bb4 2, G4 4, A4 4, Bb4 4, G4 2, E4 2, C5 4, Bb4 4, A4 12, C5 4,
        E5 8, D5 4, C5 4, C5 4, E5 2, G5 2, E5 4, C5 4, F#5 4, D5 2, A4 2, C5 4, A4 4,
        Bb4 4, D5 4, F5 4, D5 4, E5 8, C5 4, Bb4 4, Eb5 4, G5 2, Eb5 2, C5 4, Bb4 4,
        A4 4, C5 4, Eb5 6, D5 2, D5 12, C5 2, Bb4 2, A4 8, F4 4, G4 4,
        Bb4 4, D5 4, F5 4, E5 4, E5 4, D5 2, C5 2, Bb4 4, G4 4, A4 16, C5 4, A4 4, F4 8""",
        "Gm7 | C7 | Fmaj7 | Fmaj7 | Am7 | D7 | Gm7 | C7 | Cm7 | F7 | Bbmaj7 | Bbmaj7 | Gm7 | C7 | Fmaj7 | Fmaj7"),
    AnnotatedTune(
        "waltz-am", "Autumn Waltz: minor waltz round the circle of fifths, A minor, 3/4", 3, 132.0, 9, True,
        """E5 4, C5 4, A4 4, F5 4, D5 4, A4 4, B4 4, D5 4, F5 4, E5 8, D5 4,
        C5 6, D5 2, C5 4, D5 8, B4 4, G#4 4, B4 4, D5 4, C5 12,
        A4 4, C5 4, E5 4, F5 6, E5 2, D5 4, D5 4, F5 4, B4 4, C5 8, E5 4,
        A5 6, G5 2, F5 4, F5 4, D5 4, B4 4, E5 4, D5 4, G#4 4, A4 12""",
        "Am | Dm | G7 | C | F | Bdim | E7 | Am | Am | Dm | G7 | C | F | Bdim | E7 | Am"),
    AnnotatedTune(
        "hymn-d", "Evening Hymn: a chord on every beat, D major, 4/4", 4, 84.0, 2, False,
        """F#4 4, G4 4, A4 4, C#5 4, D5 4, B4 4, A4 8, D5 4, C#5 4, B4 4, A4 4, B4 4, A4 4, G4 4, E4 4,
        F#4 4, G4 4, A4 4, C#5 4, D5 4, B4 4, B4 4, A4 4, D5 4, B4 4, A4 4, G4 4, F#4 16""",
        "D G D A | Bm G A A | D A Bm F#m | G D Em A | D G D A | D Bm Em A | Bm G A7 A7 | D"),
    AnnotatedTune(
        "ballad-dm", "Harbour Lights: minor ballad, D minor, 4/4", 4, 76.0, 2, True,
        """A4 4, D5 4, F5 6, E5 2, D5 4, Bb4 4, F4 8, G4 4, Bb4 2, C5 2, D5 4, G5 4,
        E5 4, C#5 4, A4 8, F5 4, E5 2, D5 2, A4 4, D5 4, Bb4 4, D5 4, E5 4, G5 4,
        F5 4, C5 4, E5 4, C#5 4, D5 16""",
        "Dm | Bb | Gm | A7 | Dm | Gm C | F A7 | Dm"),
    AnnotatedTune(
        "reel-em", "The Cold Shore: modal folk reel, E dorian, 4/4", 4, 100.0, 4, True,
        """E4 2, B4 2, B4 2, A4 2, B4 2, E5 2, B4 2, A4 2, F#4 2, A4 2, D5 2, A4 2, F#4 2, A4 2, D5 2, E5 2,
        G4 2, B4 2, E5 2, F#5 2, G5 2, F#5 2, E5 2, D5 2, C#5 2, A4 2, E5 2, A4 2, C#5 2, B4 2, A4 2, G4 2,
        E4 2, G4 2, B4 2, G4 2, E5 4, B4 2, A4 2, A4 2, D5 2, F#5 2, D5 2, A4 2, F#4 2, D4 4,
        G4 2, B4 2, D5 2, B4 2, A4 2, F#4 2, A4 2, D5 2, E5 4, B4 4, E4 8""",
        "Em | D | Em | A | Em | D | G D | Em"),
    AnnotatedTune(
        "waltz-c", "Garden Waltz: major waltz with ii and vi, C major, 3/4", 3, 138.0, 0, False,
        """E5 4, G5 4, E5 4, C5 8, G4 4, A4 4, C5 4, F5 4, A5 8, G5 4, F5 4, D5 4, B4 4, G4 8, B4 4,
        C5 4, E5 4, G5 4, E5 12, A5 4, E5 4, C5 4, D5 4, F5 4, A5 4, G5 6, F5 2, D5 4, E5 12,
        C5 4, F5 4, A5 4, G5 4, D5 4, B4 4, C5 12""",
        "C | C | F | F | G7 | G7 | C | C | Am | Dm | G7 | C | F | G7 | C"),
    AnnotatedTune(
        "song-a", "Over the Hill: folk song with half-bar changes, A major, 4/4", 4, 96.0, 9, False,
        """C#5 4, E5 4, A5 4, E5 4, F#5 4, D5 4, E5 4, C#5 4, B4 4, G#4 2, A4 2, B4 4, E5 4, C#5 8, A4 8,
        D5 4, F#5 4, A5 4, F#5 4, E5 4, C#5 4, A4 4, C#5 4, D5 4, B4 4, B4 4, G#4 4, A4 16""",
        "A | D A | E | A | D | A F#m | Bm E7 | A"),
    AnnotatedTune(
        "minor-cm", "Night Train: minor song with half-bar changes, C minor, 4/4", 4, 92.0, 0, True,
        """G4 4, C5 4, Eb5 6, D5 2, C5 4, Ab4 4, B4 4, D5 4, Eb5 4, G5 4, Ab5 4, Eb5 4,
        F5 4, C5 2, Ab4 2, G4 4, B4 4, C5 4, Eb5 2, D5 2, C5 4, G4 4, G4 4, Bb4 4, D5 4, F5 4,
        Eb5 4, C5 4, D5 4, B4 4, C5 16""",
        "Cm | Fm G7 | Cm Ab | Fm G7 | Cm | Eb Bb | Ab G7 | Cm"),
    AnnotatedTune(
        "bossa-c", "Quiet Street: I-vi-ii-V with sevenths, two chords a bar, C major, 4/4", 4, 116.0, 0, False,
        """E5 6, D5 2, C5 4, E5 4, F5 4, A4 4, G4 4, F5 4, E5 6, D5 2, C#5 4, E5 4,
        F5 4, D5 4, B4 4, D5 4, E5 8, G5 4, E5 4, F5 4, C5 4, B4 4, D5 4, C5 16""",
        "Cmaj7 Am7 | Dm7 G7 | Em7 A7 | Dm7 G7 | Cmaj7 A7 | Dm7 G7 | Cmaj7"),
]
TUNES = {t.key: t for t in TUNES_LIST}
