"""Built-in public-domain tunes (melody and chords) for the demo and for scoring accompanists,
and reading a player's part from a MIDI file. Durations are in 16th-note steps."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mido

from liveai.music.notes import PlayerNote
from liveai.music.meter import Meter
from liveai.music.theory import LETTER_PCS, parse_note

_QUAL = {"": (0, 4, 7), "m": (0, 3, 7), "7": (0, 4, 7, 10), "m7": (0, 3, 7, 10), "dim": (0, 3, 6)}


def pitch(name: str) -> int:
    """'F#4' -> 66 (C4 = 60), by music.theory.parse_note."""
    return parse_note(name)


def parse_melody(text: str) -> list[tuple[int | None, int, int]]:
    """"F#4 4, G4 4, R 4" -> (pitch or None for a rest, start step, duration in steps) per item."""
    out, step = [], 0
    for item in text.replace("\n", " ").split(","):
        item = item.strip()
        if not item:
            continue
        name, dur = item.split()
        d = int(dur)
        if d <= 0:
            raise ValueError(f"bad duration in {item!r}")
        out.append((None if name == "R" else pitch(name), step, d))
        step += d
    return out


def chord_pcs(symbol: str) -> frozenset[int]:
    """'F#m' -> {6, 9, 1}."""
    root = LETTER_PCS[symbol[0]]
    i = 1
    while i < len(symbol) and symbol[i] in "#b":
        root += 1 if symbol[i] == "#" else -1
        i += 1
    return frozenset((root + d) % 12 for d in _QUAL[symbol[i:]])


@dataclass(frozen=True)
class Tune:
    name: str
    meter: Meter
    tempo: float
    tonic: int  # pitch class, for the drone baseline
    melody: str  # "F#4 4, G4 4, R 4 ..." (R is a rest)
    chords: str  # bars separated by |, each bar's chords share it evenly

    def notes(self, transpose: int = 0) -> list[PlayerNote]:
        return [PlayerNote(p + transpose, 90 if start % 4 == 0 else 76, start, start + dur)
                for p, start, dur in parse_melody(self.melody) if p is not None]

    @property
    def total_steps(self) -> int:
        return max(n.end_step for n in self.notes())

    def chord_steps(self, transpose: int = 0) -> list[frozenset[int]]:
        """The true chord's pitch classes at every step."""
        spb = self.meter.steps_per_bar
        out: list[frozenset[int]] = []
        for bar in self.chords.split("|"):
            syms = bar.split()
            for i, sym in enumerate(syms):
                n = spb // len(syms) + (spb % len(syms) if i == len(syms) - 1 else 0)
                pcs = frozenset((p + transpose) % 12 for p in chord_pcs(sym))
                out.extend([pcs] * n)
        return out


ODE_TO_JOY = Tune(
    "Ode to Joy (Beethoven), D major, 4/4", Meter(4, 4), 100.0, 2,
    """F#4 4, F#4 4, G4 4, A4 4, A4 4, G4 4, F#4 4, E4 4, D4 4, D4 4, E4 4, F#4 4, F#4 6, E4 2, E4 8,
    F#4 4, F#4 4, G4 4, A4 4, A4 4, G4 4, F#4 4, E4 4, D4 4, D4 4, E4 4, F#4 4, E4 6, D4 2, D4 8,
    E4 4, E4 4, F#4 4, D4 4, E4 4, F#4 2, G4 2, F#4 4, D4 4, E4 4, F#4 2, G4 2, F#4 4, E4 4, D4 4, E4 4, A3 8,
    F#4 4, F#4 4, G4 4, A4 4, A4 4, G4 4, F#4 4, E4 4, D4 4, D4 4, E4 4, F#4 4, E4 6, D4 2, D4 8""",
    "D | A7 | D | D A | D | A7 | D | A D | A D | A D | A D | D A | D | A7 | D | A D",
)

SILENT_NIGHT_F = Tune(
    "Silent Night (Gruber), F major, 3/4", Meter(3, 4), 90.0, 5,
    """C5 6, D5 2, C5 4, A4 12, C5 6, D5 2, C5 4, A4 12, G5 8, G5 4, E5 12, F5 8, F5 4, C5 12,
    D5 8, D5 4, F5 6, E5 2, D5 4, C5 6, D5 2, C5 4, A4 12, D5 8, D5 4, F5 6, E5 2, D5 4,
    C5 6, D5 2, C5 4, A4 12, G5 8, G5 4, Bb5 6, G5 2, E5 4, F5 12, A5 12, F5 6, C5 2, A4 4,
    C5 6, Bb4 2, G4 4, F4 12""",
    "F | F | F | F | C7 | C7 | F | F | Bb | Bb | F | F | Bb | Bb | F | F | C7 | C7 | F | F | F | C7 | F",
)

AMAZING_GRACE_G = Tune(
    "Amazing Grace (New Britain), G major, 3/4, from the first downbeat", Meter(3, 4), 80.0, 7,
    """G4 8, B4 2, G4 2, B4 8, A4 4, G4 8, E4 4, D4 8, D4 4, G4 8, B4 2, G4 2, B4 8, A4 4, D5 12,
    D5 8, B4 4, D5 6, B4 2, G4 4, B4 8, A4 4, G4 8, E4 4, D4 8, D4 4, G4 8, B4 2, G4 2, B4 8, A4 4, G4 12""",
    "G | G | C | G | G | G | D | D | G | G7 | C | G | G | D | G",
)

BUILTIN = ODE_TO_JOY
TUNES = {"ode": ODE_TO_JOY, "silent-night": SILENT_NIGHT_F, "amazing-grace": AMAZING_GRACE_G}


def tune_events(notes: list[PlayerNote], bpm: float, channel: int = 0) -> list[tuple[float, mido.Message]]:
    """Player notes -> (seconds from the first note, message), note-offs before note-ons at ties."""
    step_s = 60.0 / bpm / 4
    evs = []
    for n in notes:
        evs.append((n.start_step * step_s, 1, mido.Message("note_on", channel=channel, note=n.pitch, velocity=n.velocity)))
        evs.append(((n.end_step or n.start_step + 1) * step_s, 0, mido.Message("note_off", channel=channel, note=n.pitch)))
    evs.sort(key=lambda e: (e[0], e[1]))
    return [(t, m) for t, _, m in evs]


TEMPO_RANGE = (20.0, 400.0)  # what the engine plays (liveai.timing.transport.check_tempo)


@dataclass
class InputFile:
    events: list[tuple[float, mido.Message]]  # seconds from the first note-on, at file_tempo
    tempo: float | None  # the file's first tempo, clamped to TEMPO_RANGE
    meter: Meter | None
    file_tempo: float = 120.0  # the tempo the times were read at (a file with none: MIDI's 120)

    def events_at(self, bpm: float) -> list[tuple[float, mido.Message]]:
        """The events played at bpm instead of the file's own tempo (demo --tempo, a clamped tempo)."""
        k = self.file_tempo / bpm
        return [(t * k, m) for t, m in self.events] if k != 1.0 else list(self.events)


def read_midi(path: str | Path) -> InputFile:
    """The player's part from a MIDI file: every channel-voice message (drums included: the engine
    leaves channel 10 out of listening but records it), times in seconds from the first note-on,
    with the file's first tempo (clamped to TEMPO_RANGE, with a warning) and time signature. A
    type-2 file's tracks are merged. Clear errors on bad files."""
    import logging
    log = logging.getLogger(__name__)
    try:
        if Path(path).is_file() and Path(path).stat().st_size == 0:
            raise ValueError("the file is empty (0 bytes)")
        mf = mido.MidiFile(str(path))
    except FileNotFoundError:
        raise ValueError(f"input file {path} does not exist") from None
    except Exception as e:
        raise ValueError(f"cannot read MIDI file {path}: {e or type(e).__name__}") from None
    if mf.type == 2:  # independent patterns; played together rather than refused
        log.warning("%s is a type-2 MIDI file: its %d tracks are played together", path, len(mf.tracks))
        mf.type = 1
    tempo = meter = None
    evs: list[tuple[float, mido.Message]] = []
    t = 0.0
    try:
        for msg in mf:  # merged tracks, time in seconds
            t += msg.time
            if msg.is_meta:
                if msg.type == "set_tempo" and tempo is None:
                    tempo = mido.tempo2bpm(msg.tempo)
                elif msg.type == "time_signature" and meter is None:
                    meter = Meter(msg.numerator, msg.denominator)
                continue
            if msg.type in ("note_on", "note_off", "control_change", "pitchwheel", "aftertouch", "polytouch"):
                evs.append((t, msg.copy(time=0)))
    except Exception as e:
        raise ValueError(f"cannot read MIDI file {path}: {e or type(e).__name__}") from None
    first = next((t for t, m in evs if m.type == "note_on" and m.velocity > 0), None)
    if first is None:
        raise ValueError(f"{path} has no notes (no note-on in any of its {len(mf.tracks)} tracks)")
    evs = [(t - first, m) for t, m in evs if t >= first]
    file_tempo = tempo if tempo is not None else 120.0
    if tempo is not None and not TEMPO_RANGE[0] <= tempo <= TEMPO_RANGE[1]:
        clamped = min(max(tempo, TEMPO_RANGE[0]), TEMPO_RANGE[1])
        log.warning("%s: its tempo %.4g BPM is outside %g..%g; playing it at %g BPM", path, tempo,
                    *TEMPO_RANGE, clamped)
        tempo = clamped
    return InputFile(evs, tempo, meter, file_tempo)


# --------------------------------------------------------------------------- plain test tunes
# Plain diatonic melodies with their chords, for scoring the accompanist on ordinary songs
# (tests/generators/test_model_tunes.py): keys other than C, 3/4 and 4/4, major and minor, a
# 12-bar blues. Traditional (public domain) or written for liveai (self-composed, public domain).

TWINKLE_G = Tune(
    "Twinkle, Twinkle, Little Star (traditional), G major, 4/4", Meter(4, 4), 100.0, 7,
    """G4 4, G4 4, D5 4, D5 4, E5 4, E5 4, D5 8, C5 4, C5 4, B4 4, B4 4, A4 4, A4 4, G4 8,
    D5 4, D5 4, C5 4, C5 4, B4 4, B4 4, A4 8, D5 4, D5 4, C5 4, C5 4, B4 4, B4 4, A4 8,
    G4 4, G4 4, D5 4, D5 4, E5 4, E5 4, D5 8, C5 4, C5 4, B4 4, B4 4, A4 4, A4 4, G4 8""",
    "G | C G | C G | D G | G C | G D | G C | G D | G | C G | C G | D G",
)

MARY_A = Tune(
    "Mary Had a Little Lamb (traditional), A major, 4/4", Meter(4, 4), 110.0, 9,
    """C#5 4, B4 4, A4 4, B4 4, C#5 4, C#5 4, C#5 8, B4 4, B4 4, B4 8, C#5 4, E5 4, E5 8,
    C#5 4, B4 4, A4 4, B4 4, C#5 4, C#5 4, C#5 4, C#5 4, B4 4, B4 4, C#5 4, B4 4, A4 16""",
    "A | A | E | A | A | A | E | A",
)

WALTZ_BB = Tune(
    "Waltz in B-flat (liveai), B-flat major, 3/4", Meter(3, 4), 120.0, 10,
    """D5 4, F5 4, D5 4, Bb4 8, C5 4, C5 4, Eb5 4, C5 4, D5 12,
    Eb5 4, G5 4, Eb5 4, D5 4, F5 4, D5 4, C5 4, A4 4, C5 4, A4 12,
    Bb4 4, D5 4, F5 4, F5 6, Eb5 2, D5 4, Eb5 4, G5 4, Eb5 4, Eb5 8, D5 4,
    D5 4, C5 4, Bb4 4, A4 4, C5 4, Eb5 4, D5 8, C5 4, Bb4 12""",
    "Bb | Bb | F7 | Bb | Eb | Bb | F | F | Bb | Bb | Eb | Eb | Bb | F7 | Bb | Bb",
)

LAMENT_EM = Tune(
    "Lament in E minor (liveai), E minor, 4/4", Meter(4, 4), 90.0, 4,
    """E4 4, G4 4, B4 4, G4 4, A4 4, C5 4, B4 4, A4 4, B4 8, A4 4, F#4 4, G4 4, F#4 4, E4 8,
    B4 4, B4 4, E5 4, B4 4, C5 4, E5 4, D5 4, C5 4, D5 4, A4 4, F#4 4, A4 4, G4 8, B4 4, D5 4,
    E5 4, D5 4, B4 4, G4 4, A4 4, C5 4, E5 8, F#4 4, A4 4, B4 4, D#5 4, E5 16""",
    "Em | Am | B7 | Em | Em | C | D | G | Em | Am | B7 | Em",
)

WALTZ_DM = Tune(
    "Waltz in D minor (liveai), D minor, 3/4", Meter(3, 4), 110.0, 2,
    """A4 4, D5 4, F5 4, D5 8, Bb4 4, A4 4, C#5 4, E5 4, F5 4, E5 4, D5 4,
    A4 4, D5 4, F5 4, F5 4, D5 4, Bb4 4, E5 4, C#5 4, A4 4, D5 12""",
    "Dm | Gm | A7 | Dm | Dm | Bb | A7 | Dm",
)

BLUES_F = Tune(
    "Twelve-bar blues in F (liveai), F, 4/4", Meter(4, 4), 100.0, 5,
    """F4 4, A4 4, C5 4, A4 4, C5 4, D5 2, C5 2, A4 4, F4 4, F4 4, A4 4, C5 4, Eb5 4, C5 4, A4 4, F4 8,
    Bb4 4, D5 4, F5 4, D5 4, F5 4, D5 4, Bb4 4, Ab4 4, F4 4, A4 4, C5 4, A4 4, C5 4, A4 4, G4 2, A4 2, F4 4,
    C5 4, Bb4 4, G4 4, E4 4, Bb4 4, D5 4, F5 4, D5 4, C5 4, A4 4, F4 4, A4 4, G4 4, Bb4 4, C5 4, E5 4,
    F5 16""",
    "F7 | F7 | F7 | F7 | Bb7 | Bb7 | F7 | F7 | C7 | Bb7 | F7 | C7 | F7",
)

PLAIN_TUNES = {"twinkle": TWINKLE_G, "mary": MARY_A, "waltz-bb": WALTZ_BB, "lament-em": LAMENT_EM,
               "waltz-dm": WALTZ_DM, "blues-f": BLUES_F}
