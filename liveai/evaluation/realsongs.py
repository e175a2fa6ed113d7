"""Real songs as evaluation cases: the validation songs of the derived set (data/realsongs.npz).

POP909 songs 721-800 and a fifth of the chord-melody-dataset's lead sheets: no training run sees
them, and no setting was chosen on them (settings are chosen on the "tune" share of the training
songs). Melody only, as a new user would try a song: `liveai demo --fast --input SONG.mid`.

Each song is cut to its first bar line where a melody note starts (the demo starts its grid at
the player's first note) and, for time, to its first `bars` bars. The true chord of every step is
the annotated one (sevenths, sus and slash chords kept; the scoring reduces them to triads). The
references beside the accompanists: the tonic drone, the true chords (ceiling) and the true chords
one beat late ("late": a listener that names each chord after hearing one beat of it).
"""
from __future__ import annotations

from pathlib import Path

from liveai.evaluation import references
from liveai.evaluation.harmony import Note
from liveai.music.theory import ChordSymbol
from liveai.harmony.chordvocab import QUALITIES

LATE_STEPS = 4  # one beat
PUBLISHED = ("Published note-in-chord, for comparison (the share of 16th frames where the melody is a tone "
             "of the chord): true chords 0.71 (Hooktheory; ReaLchords, ICML 2024), 0.73-0.78 (POP909, "
             "Nottingham, Wikifonia; GAPT, 2025); online models choosing before the melody note of their "
             "frame is heard 0.48-0.54 (ReaLchords, GAPT).")


def song_chords(root, quality, bass) -> list[ChordSymbol | None]:
    """The chord per step of a song's arrays (None where none)."""
    out: list[ChordSymbol | None] = []
    for r, q, b in zip(root.tolist(), quality.tolist(), bass.tolist()):
        out.append(None if r < 0 or q < 0 else ChordSymbol(r, QUALITIES[q], b if b >= 0 and b != r else None))
    return out


def song_melody(mel, onset) -> list[Note]:
    """Grid notes of a melody track: a note starts at an onset or where the pitch changes."""
    notes: list[Note] = []
    start, cur = 0, 0
    for k, p in enumerate(list(mel.tolist()) + [0]):
        new = k == len(mel) or p != cur or (p > 0 and onset[k])
        if new:
            if cur > 0:
                notes.append(Note(cur, start, k, "melody"))
            start, cur = k, p
    return notes


def case_of_song(view, bars: int | None = None, key_prefix: str = "real"):
    """One evaluation case from a song of the derived set, or None when it has no bar line where a
    note starts."""
    from liveai.evaluation.runner import Case
    spb = view.steps_per_bar
    onsets = {k for k in range(len(view.mel)) if view.onset[k] and view.mel[k] > 0}
    cut = next((b for b in range(0, len(view.mel), spb) if b in onsets), None)
    if cut is None:
        return None
    end = len(view.mel) if bars is None else min(len(view.mel), cut + bars * spb)
    melody = song_melody(view.mel[cut:end], view.onset[cut:end])
    chords = song_chords(view.root[cut:end], view.quality[cut:end], view.bass[cut:end])
    if not melody or all(c is None for c in chords[spb:]):
        return None
    markers, prev = [], None
    for k, c in enumerate(chords):
        if c is not None and c != prev:
            markers.append((k, c))
        prev = c
    late = [None] * LATE_STEPS + chords[:-LATE_STEPS]
    name = view.song_id.replace("/", "-").replace("@", "-")
    return Case(f"{key_prefix}-{name}", view.song_id, spb // 4, round(float(view.tempo), 1), view.key_tonic,
                bool(view.key_minor), melody, chords, markers, extra_refs={"late": references.ceiling(late)})


def real_cases(n: int, bars: int | None = 32, path: str | Path | None = None,
               sources: tuple[str, ...] = ("pop909", "cmd")) -> list:
    """Up to n validation songs of each source (in order of their ids, spread over the split)."""
    from liveai.corpus.realsongset import DEFAULT_PATH, load
    rs = load(path or DEFAULT_PATH)
    out = []
    for src in sources:
        idx = sorted(rs.indices("val", src), key=lambda i: str(rs.song_id[i]))
        pick = idx if n >= len(idx) else [idx[round(j * len(idx) / n)] for j in range(n)]
        for i in pick:
            c = case_of_song(rs.song(i), bars)
            if c is not None:
                out.append(c)
    return out
