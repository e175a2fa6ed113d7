"""A player's own files as chord-model material: melody and chords on the 16th grid, or a reason.

`liveai learn` reads what a musician has: a piano part (the tune on top, chords below), a lead
sheet (a melody and a chord track, or MusicXML with chord symbols), a multi-track song, or a take
from the recordings folder (only its "player" track: the band's tracks are not the player).
  - melody: a track named like a melody (melody, lead, vocal, voice, soprano, tune), else the
    highest mostly-single-note track of a multi-track song, else the top line of all notes;
  - chords: chord names written in the file (marker, text or lyric events, as liveai's own takes
    and demo inputs carry them, or MusicXML <harmony>), else each beat's notes below the melody
    named by the template recogniser (duration-weighted, the melody counting half);
  - drums (channel 10) are never harmony.
Every file gives a Song or one line saying why not; nothing here writes anywhere. numpy + mido only.
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import mido
import numpy as np

from liveai.harmony.chordvocab import NO_CHORD, chord_index
from liveai.train.chorddata import IGNORE, Song
from liveai.view.chordname import parse_chord, recognise

MAX_BYTES = 8 * 1024 * 1024  # a song a player wrote is kilobytes; a 100 MB file is something else
MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
XML_SUFFIXES = (".xml", ".musicxml", ".mxl")
MELODY_NAMES = ("melody", "lead", "vocal", "voice", "soprano", "tune", "right")
MIN_CHORD_SHARE = 0.25  # of the melody's beats: less, and the file teaches no harmony


@dataclass(frozen=True)
class Found:
    """One file's outcome: a song, or why it was skipped."""
    path: Path
    song: Song | None
    reason: str = ""
    chords_from: str = ""  # "symbols" or "notes"


def find_files(paths: list[str | os.PathLike], max_files: int = 2000) -> Iterator[tuple[Path, str]]:
    """(file, "") for each candidate under paths (folders recursively, in name order), or
    (path, reason) for what cannot be read at all; at most max_files candidates are read."""
    n = 0
    for p in map(Path, paths):
        if not p.exists():
            yield p, "does not exist"
            continue
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        for f in files:
            if p.is_dir() and f.suffix.lower() not in MIDI_SUFFIXES + XML_SUFFIXES:
                continue  # a folder's other files are not songs (a README, a WAV): no line for them
            n += 1
            if n > max_files:
                yield f, f"over --max-files {max_files}: not read"
                continue
            yield f, ""


def read_file(path: Path) -> Found:
    """A file as a Song, or the reason it is skipped (never raises for a bad file)."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return Found(path, None, f"{size / 1e6:.0f} MB: larger than {MAX_BYTES // (1024 * 1024)} MB")
        if size == 0:
            return Found(path, None, "empty file")
        if path.suffix.lower() in XML_SUFFIXES:
            return _read_xml(path)
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head != b"MThd":
            return Found(path, None, "not a MIDI file")
        try:
            mf = mido.MidiFile(str(path), clip=True)
        except Exception as e:  # mido raises several kinds for a damaged file
            return Found(path, None, f"damaged MIDI file ({str(e).splitlines()[0][:80] if str(e) else type(e).__name__})")
        return song_of_midi(mf, path)
    except OSError as e:
        return Found(path, None, f"cannot be read ({e.strerror or e})")


def _read_xml(path: Path) -> Found:
    from liveai.corpus.musicxml import parse_musicxml
    try:
        if path.suffix.lower() == ".mxl":
            with zipfile.ZipFile(path) as z:
                name = next((n for n in z.namelist() if n.endswith((".xml", ".musicxml"))
                             and not n.startswith("META-INF")), None)
                if name is None:
                    return Found(path, None, "no score inside the .mxl")
                text = z.read(name)
        else:
            text = path.read_bytes()
        g = parse_musicxml(text, path.stem)
    except Exception as e:
        return Found(path, None, f"not a lead sheet liveai reads ({str(e).splitlines()[0][:80] if str(e) else type(e).__name__})")
    root = g.root.astype(np.int64)
    q = g.quality.astype(np.int64)
    none = (root < 0) | (q < 0)
    from liveai.harmony.chordvocab import QUALITIES
    target = np.where(none, NO_CHORD, root * len(QUALITIES) + q)
    bass = np.where(none, IGNORE, (g.bass.astype(np.int64) - root) % 12)
    return _checked(path, Song(path.stem, g.mel.astype(np.int64), g.onset.astype(np.uint8), target, bass,
                               g.steps_per_bar), "symbols")


# ----------------------------------------------------------------------------- MIDI

def _notes_by_track(mf: mido.MidiFile) -> tuple[list[tuple[str, list[tuple[int, int, int, int]]]], list, tuple, bool]:
    """[(track name, [(start tick, end tick, pitch, velocity)])], chord-name events [(tick, text)],
    the first time signature, and whether drums were heard."""
    tracks, texts, meter, drums = [], [], None, False
    for i, tr in enumerate(mf.tracks):
        tick, name, notes, open_ = 0, tr.name or f"track {i + 1}", [], {}
        for msg in tr:
            tick += msg.time
            if msg.type == "time_signature" and meter is None:
                meter = (msg.numerator, msg.denominator)
            elif msg.type in ("marker", "text", "lyrics", "cue_marker"):
                texts.append((tick, msg.text))
            elif msg.type in ("note_on", "note_off"):
                if msg.channel == 9:
                    drums = drums or (msg.type == "note_on" and msg.velocity > 0)
                    continue
                k = (msg.channel, msg.note)
                if msg.type == "note_on" and msg.velocity > 0:
                    if k in open_:  # re-struck while sounding: the first one ends here
                        s, v = open_.pop(k)
                        notes.append((s, tick, msg.note, v))
                    open_[k] = (tick, msg.velocity)
                elif k in open_:
                    s, v = open_.pop(k)
                    notes.append((s, tick, msg.note, v))
        for (_, p), (s, v) in open_.items():  # never closed: ends with the track
            notes.append((s, max(tick, s + 1), p, v))
        if notes:
            tracks.append((name, notes))
    return tracks, texts, meter or (4, 4), drums


def _melody_track(tracks) -> int | None:
    """The index of the melody's own track, or None (then the top line of everything)."""
    for i, (name, _) in enumerate(tracks):
        if any(w in name.lower() for w in MELODY_NAMES):
            return i
    if len(tracks) < 2:
        return None
    best, best_pitch = None, -1.0
    for i, (_, notes) in enumerate(tracks):
        starts: dict[int, int] = {}
        for s, _, _, _ in notes:
            starts[s] = starts.get(s, 0) + 1
        single = sum(1 for c in starts.values() if c == 1) / max(1, len(starts))
        mean = float(np.mean([p for _, _, p, _ in notes]))
        if len(notes) >= 16 and single >= 0.8 and mean > best_pitch:
            best, best_pitch = i, mean
    return best


def song_of_midi(mf: mido.MidiFile, path: Path) -> Found:
    tracks, texts, (num, den), drums = _notes_by_track(mf)
    if not tracks:
        return Found(path, None, "drums only" if drums else "no notes")
    takes = [i for i, (name, _) in enumerate(tracks) if name.strip().lower() == "player"]
    if takes:  # a liveai take: the player's own track only
        tracks = [tracks[takes[0]]]
    spb = num * 16 // den if den in (2, 4, 8, 16) else 0
    if spb not in (8, 12, 16) or (num * 16) % den:
        return Found(path, None, f"meter {num}/{den}: liveai learns 2/4, 3/4, 4/4 and 6/8")
    step = mf.ticks_per_beat / 4.0

    def on_grid(notes):  # ticks -> 16th steps, every note at least one step long
        return [(round(s / step), max(round(s / step) + 1, round(e / step)), p, v) for s, e, p, v in notes]
    grid = [n for _, notes in tracks for n in on_grid(notes)]
    T = max(e for _, e, _, _ in grid)
    if T > 16 * 2000:
        return Found(path, None, f"{T // spb} bars: longer than a song liveai learns from")
    mi = _melody_track(tracks)
    if mi is not None:
        mel_notes = on_grid(tracks[mi][1])
        others = [n for i, (_, notes) in enumerate(tracks) if i != mi for n in on_grid(notes)]
    else:
        mel_notes, others = grid, []
    mel, onset, top_id = _top_line(mel_notes, T)
    if mi is None:  # one part: everything not on the top line is the accompaniment
        others = [n for k, n in enumerate(mel_notes) if k not in top_id]
    bars = int((mel[:T - T % spb].reshape(-1, spb) > 0).any(1).sum())  # bars with a melody
    if int((mel > 0).sum()) < 4 * spb or int(onset.sum()) < 1.5 * max(1, bars):
        return Found(path, None, "no melody (the top line holds a chord's note for bars: chords alone)"
                     if int((mel > 0).sum()) >= 4 * spb else "no melody (less than four bars of notes on top)")
    target, chords_from = _symbol_chords(texts, step, T), "symbols"
    if target is None:
        target, chords_from = _heard_chords(mel, others, T), "notes"
    bass = _bass_track(others, target, T)
    song = Song(path.stem, mel, onset, target, bass, spb)
    return _checked(path, song, chords_from)


def _top_line(notes, T: int) -> tuple[np.ndarray, np.ndarray, set[int]]:
    """The highest sounding pitch per step (0: rest), its onsets, and which notes made it."""
    mel = np.zeros(T, np.int64)
    owner = np.full(T, -1, np.int64)
    for k, (s, e, p, _) in enumerate(notes):
        seg = slice(s, e)
        higher = p > mel[seg]
        mel[seg] = np.where(higher, p, mel[seg])
        owner[seg] = np.where(higher, k, owner[seg])
    onset = np.zeros(T, np.uint8)
    prev = -1
    for t in range(T):
        if owner[t] >= 0 and owner[t] != prev and notes[owner[t]][0] <= t:
            onset[t] = 1
        prev = owner[t]
    return mel, onset, set(int(k) for k in np.unique(owner) if k >= 0)


def _symbol_chords(texts, step: float, T: int) -> np.ndarray | None:
    """Chords from names written in the file, held until the next name; None unless most of the
    file's text events are chord names (lyrics are not chords)."""
    found = []
    for tick, text in texts:
        try:
            found.append((int(round(tick / step)), parse_chord(text)))
        except (ValueError, KeyError):
            continue
    if len(found) < 2 or len(found) < 0.5 * len(texts):
        return None
    target = np.full(T, NO_CHORD, np.int64)
    for (s, ch), nxt in zip(sorted(found, key=lambda x: x[0]), sorted(found, key=lambda x: x[0])[1:] + [(T, None)]):
        target[max(0, s):max(0, min(T, nxt[0]))] = chord_index(ch)
    return target


def _heard_chords(mel: np.ndarray, others, T: int) -> np.ndarray:
    """Each beat's chord from the notes below the melody (duration-weighted), the melody half."""
    target = np.full(T, NO_CHORD, np.int64)
    for b0 in range(0, T, 4):
        b1 = min(T, b0 + 4)
        w: dict[int, float] = {}
        low = None
        for s, e, p, v in others:
            o = min(e, b1) - max(s, b0)
            if o > 0:
                w[p % 12] = w.get(p % 12, 0.0) + o
                low = p if low is None or p < low else low
        if not w:
            continue
        for t in range(b0, b1):
            if mel[t] > 0:
                w[int(mel[t]) % 12] = w.get(int(mel[t]) % 12, 0.0) + 0.5
        ch = recognise(w, None if low is None else low % 12)
        if ch is not None:
            target[b0:b1] = chord_index(ch)
    return target


def _bass_track(others, target: np.ndarray, T: int) -> np.ndarray:
    """The lowest note under each chord as an interval above its root (IGNORE where no chord)."""
    low = np.full(T, 128, np.int64)
    for s, e, p, _ in others:
        low[s:e] = np.minimum(low[s:e], p)
    from liveai.harmony.chordvocab import QUALITIES
    root = np.where(target < NO_CHORD, target // len(QUALITIES), -1)
    return np.where((target >= NO_CHORD) | (low > 127), np.where(target >= NO_CHORD, IGNORE, 0),
                    (low - root) % 12)


def _checked(path: Path, song: Song, chords_from: str) -> Found:
    nb = (len(song.mel) + 3) // 4
    pad = np.zeros(nb * 4, np.int64)
    pad[:len(song.mel)] = song.mel
    beats = (pad.reshape(nb, 4) > 0).any(1)
    with_chord = song.target[::4][:nb] < NO_CHORD
    if int(beats.sum()) < 8:
        return Found(path, None, "no melody")
    share = float((with_chord & beats).sum()) / int(beats.sum())
    if share < MIN_CHORD_SHARE:
        return Found(path, None, f"chords on {share:.0%} of the melody's beats: a melody alone teaches no harmony")
    return Found(path, song, "", chords_from)
