"""POP909 (Wang et al., ISMIR 2020; MIT) songs 001-800 read onto the 16th grid.

The MELODY track of NNN.mid is put on the grid by interpolating note times between the annotated
beats (beat_midi.txt), chords come from chord_midi.txt, the key from the first span of
key_audio.txt. Songs 801-909 are held out and refused. Bars come from the 4/4 downbeats (column 3):
a song whose bars are all four beats long is kept whole; a song with irregular bars (2-, 3-, 6-beat
bars: real metre changes or annotation errors) is cut there into its regular stretches, each kept as
its own entry ("pop909/003@12": from bar 12) when it holds at least MIN_BARS bars with melody
(``irregular="skip"`` drops such songs). Songs 721-800 are the validation split.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from liveai.corpus.songgrid import (Q_INDEX, STEPS_PER_BAR, STEPS_PER_BEAT, Song, empty_arrays, pc_of,
                                   place_notes)

MIN_BARS = 4          # shortest stretch (bars with melody) kept from a song with irregular bars
LAST_POP909_ID = 800  # 801-909 are held out for acceptance checks: never read
FIRST_VAL_ID = 721    # 721-800: validation
EPS = 1e-3            # seconds: the chord sounding just after a step's time

# POP909 quality (after "root:", before "/bass") -> our quality
POP909_QUALITY: dict[str, str] = {
    "maj": "maj", "min": "min", "dim": "dim", "aug": "aug", "sus4": "sus4", "sus2": "maj",
    "7": "7", "maj7": "maj7", "min7": "m7", "hdim7": "m7b5", "dim7": "dim",
    "maj6": "maj", "6": "maj", "min6": "min", "sus4(b7)": "sus4", "7sus4": "sus4",
    "minmaj7": "min", "9": "7", "11": "7", "13": "7", "7(b9)": "7", "7(#9)": "7",
    "maj9": "maj7", "maj11": "maj7", "maj13": "maj7", "min9": "m7", "min11": "m7", "min13": "m7",
    "aug7": "aug", "1": "maj", "5": "maj", "m7b5": "m7b5", "m7": "m7", "m": "min",
}
# a bass written as a scale degree of the chord's root ("Bb:min7/b7") -> semitones above the root
DEGREE_SEMITONES: dict[str, int] = {
    "1": 0, "b2": 1, "2": 2, "#2": 3, "b3": 3, "3": 4, "4": 5, "#4": 6, "b5": 6, "5": 7, "#5": 8,
    "b6": 8, "6": 9, "bb7": 9, "b7": 10, "7": 11, "b9": 1, "9": 2, "#9": 3, "11": 5, "#11": 6,
    "b13": 8, "13": 9,
}
def parse_pop909_label(label: str) -> tuple[int, str, int] | None:
    """A POP909 chord label -> (root pc, quality, bass pc), None for no chord ("N", "X") or an
    unknown label. The bass is the root unless a slash degree is written."""
    label = label.strip()
    if not label or label in ("N", "X") or ":" not in label:
        return None
    root_s, rest = label.split(":", 1)
    bass_s = None
    if "/" in rest:
        rest, bass_s = rest.split("/", 1)
    q = POP909_QUALITY.get(rest)
    if q is None and "(" in rest:
        q = POP909_QUALITY.get(rest.split("(", 1)[0] or "maj")
    if q is None:
        return None
    try:
        root = pc_of(root_s)
    except KeyError:
        return None
    bass = root
    if bass_s:
        if bass_s in DEGREE_SEMITONES:
            bass = (root + DEGREE_SEMITONES[bass_s]) % 12
        else:
            try:
                bass = pc_of(bass_s)
            except KeyError:
                pass
    return root, q, bass


def _melody_seconds(mid_path: Path) -> list[tuple[float, float, int]]:
    """The MELODY track's notes as (start s, end s, pitch), through the tempo map."""
    import mido
    m = mido.MidiFile(str(mid_path))
    tracks = [t for t in m.tracks if t.name.strip().upper() == "MELODY"]
    if not tracks:
        raise ValueError("no MELODY track")
    tempo_at: list[tuple[int, int]] = []  # (tick, tempo) in order
    for t in m.tracks:
        tick = 0
        for msg in t:
            tick += msg.time
            if msg.type == "set_tempo":
                tempo_at.append((tick, msg.tempo))
    tempo_at.sort()
    if not tempo_at or tempo_at[0][0] > 0:
        tempo_at.insert(0, (0, 500000))
    ticks = np.array([a for a, _ in tempo_at], float)
    per_tick = np.array([mido.tick2second(1, m.ticks_per_beat, b) for _, b in tempo_at])
    base = np.concatenate([[0.0], np.cumsum(np.diff(ticks) * per_tick[:-1])])

    def sec(tick: int) -> float:
        k = int(np.searchsorted(ticks, tick, side="right")) - 1
        return float(base[k] + (tick - ticks[k]) * per_tick[k])

    tick, on, notes = 0, {}, []
    for msg in tracks[0]:
        tick += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            if msg.note in on:
                notes.append((on.pop(msg.note), tick, msg.note))
            on[msg.note] = tick
        elif msg.type in ("note_off", "note_on") and msg.note in on:
            notes.append((on.pop(msg.note), tick, msg.note))
    return [(sec(a), sec(b), p) for a, b, p in notes]


def _chord_spans(path: Path):
    spans = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3:
            spans.append((float(parts[0]), float(parts[1]), parts[2]))
    return spans


def _key(path: Path) -> tuple[int, int]:
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and ":" in parts[2]:
            tonic, mode = parts[2].split(":", 1)
            return pc_of(tonic), int(mode.startswith("min"))
    return 0, 0


def pop909_songs(song_dir: Path, *, irregular: str = "split", min_bars: int = MIN_BARS,
                 stats: dict | None = None) -> list[Song]:
    """One POP909 folder -> its songs (one, several regular stretches, or none)."""
    sid = int(song_dir.name)
    if sid > LAST_POP909_ID or sid < 1:
        raise ValueError(f"POP909 song {sid:03d} is held out (only 001-{LAST_POP909_ID:03d} may be read)")
    stats = stats if stats is not None else {}
    beats = np.loadtxt(song_dir / "beat_midi.txt", ndmin=2)
    bt = beats[:, 0]
    notes = _melody_seconds(song_dir / f"{song_dir.name}.mid")
    if not notes:
        raise ValueError("no melody notes")
    spans = _chord_spans(song_dir / "chord_midi.txt")
    tonic, minor = _key(song_dir / "key_audio.txt")
    split = "val" if sid >= FIRST_VAL_ID else "train"
    nb = len(bt)
    idx = np.arange(nb, dtype=float)
    d0, d1 = bt[1] - bt[0], bt[-1] - bt[-2]

    def beat_of(t):  # seconds -> fractional beat index (linear beyond the annotated beats)
        t = np.asarray(t, float)
        b = np.interp(t, bt, idx)
        b = np.where(t < bt[0], (t - bt[0]) / d0, b)
        return np.where(t > bt[-1], nb - 1 + (t - bt[-1]) / d1, b)

    def time_of(b):  # fractional beat index -> seconds
        b = np.asarray(b, float)
        t = np.interp(b, idx, bt)
        t = np.where(b < 0, bt[0] + b * d0, t)
        return np.where(b > nb - 1, bt[-1] + (b - nb + 1) * d1, t)

    down = np.flatnonzero(beats[:, 2] == 1) if beats.shape[1] >= 3 else np.array([], int)
    if len(down) < 2:
        raise ValueError("no 4/4 downbeats")
    # bars: [down[k], down[k+1]); the last bar runs four beats past the last downbeat
    starts = list(down)
    lengths = list(np.diff(down)) + [4]
    regular = [L == 4 for L in lengths]
    n_on = np.array([a for a, _, _ in notes])
    n_off = np.array([b for _, b, _ in notes])
    on_beat = beat_of(n_on)
    off_beat = beat_of(n_off)
    # runs of consecutive regular bars
    runs, cur = [], []
    for k, ok in enumerate(regular):
        if ok:
            cur.append(k)
        elif cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    first_on, last_off = on_beat.min(), off_beat.max()
    span_bars = [k for k in range(len(starts)) if starts[k] + lengths[k] > first_on and starts[k] <= last_off]
    irregular_in_span = sum(not regular[k] for k in span_bars)
    if irregular_in_span and irregular == "skip":
        stats["irregular"] = stats.get("irregular", 0) + 1
        return []
    if irregular_in_span:
        stats["irregular_split"] = stats.get("irregular_split", 0) + 1
    out = []
    for run in runs:
        # bars of the run with melody: trim leading/trailing bars without a note sounding
        b0s = np.array([starts[k] for k in run], float)
        has = [bool(np.any((on_beat < b + 4) & (off_beat > b))) for b in b0s]
        if not any(has):
            continue
        i0 = has.index(True)
        i1 = len(has) - has[::-1].index(True)
        if i1 - i0 < min_bars:
            stats["short_stretches"] = stats.get("short_stretches", 0) + 1
            continue
        bar0 = run[i0]
        base = float(starts[bar0])
        T = (i1 - i0) * STEPS_PER_BAR
        mel, onset, root, qual, bass = empty_arrays(T)
        sn = [(int(round((a - base) * STEPS_PER_BEAT)), int(round((b - base) * STEPS_PER_BEAT)), p, True)
              for a, b, (_, _, p) in zip(on_beat, off_beat, notes)]
        sn = [n for n in sn if n[0] >= 0 or n[1] > 0]
        # a note begun before the stretch (in an irregular bar) sounds on without an onset
        sn = [(s, e, p, on and s >= 0) for s, e, p, on in sn]
        place_notes(mel, onset, sn)
        st = time_of(base + np.arange(T) / STEPS_PER_BEAT) + EPS
        for a, b, lab in spans:
            c = parse_pop909_label(lab)
            if c is None:
                if lab not in ("N", "X"):
                    stats.setdefault("unknown_labels", set()).add(lab)
                continue
            m = (st >= a) & (st < b)
            root[m], qual[m], bass[m] = c[0], Q_INDEX[c[1]], c[2]
        name = f"pop909/{song_dir.name}" + (f"@{bar0}" if irregular_in_span else "")
        seg_beats = bt[int(base):int(base) + (i1 - i0) * 4 + 1]
        tempo = float(60.0 / np.mean(np.diff(seg_beats))) if len(seg_beats) > 1 else 100.0
        out.append(Song(name, mel, onset, root, qual, bass, tempo, tonic, minor, split))
    return out
