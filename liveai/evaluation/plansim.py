"""The chord planner alone on real songs, without the engine: fast enough to compare settings.

Each song of the derived set (data/realsongs.npz) is played to a HarmonyPlanner one step at a time
as the engine does with its default lookahead: step s is planned with the melody complete up to
s-2, then a melody note struck on step s is heard at once (hear_melody, the engine's reactive
path). The chord sounding at each step is compared with the annotation: per beat (the triad, as
the implied-chord metric hears it) and at the annotated changes.

This is a tool for choosing the planner's settings on the tuning songs (never on the validation
songs, which `liveai evaluate --real` measures through the real engine):

    python -m liveai.evaluation.plansim --split tune --variants "planner,model-only,mix"
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from liveai.music.theory import TRIAD_OF, ChordSymbol
from liveai.harmony.planner import HarmonyPlanner, PlannerSettings
from liveai.music.notes import PlayerNote, notes_from_frames, visible_player


@dataclass
class SimSong:
    song_id: str
    notes: list[PlayerNote]
    chords: list[ChordSymbol | None]  # per step
    steps_per_bar: int


def sim_songs(path: Any, split: str, limit: int | None = None) -> list[SimSong]:
    from liveai.corpus.realsongset import split_of
    from liveai.harmony.chordvocab import QUALITIES
    d = np.load(str(path))
    off = d["offsets"]
    out = []
    for i in range(len(off) - 1):
        if split_of(str(d["song_id"][i]), str(d["split"][i])) != split:
            continue
        a, b = int(off[i]), int(off[i + 1])
        root, q, bass = d["root"][a:b], d["quality"][a:b], d["bass"][a:b]
        chords = [None if root[k] < 0 or q[k] < 0 else
                  ChordSymbol(int(root[k]), QUALITIES[int(q[k])],
                              None if bass[k] == root[k] or bass[k] < 0 else int(bass[k]))
                  for k in range(b - a)]
        out.append(SimSong(str(d["song_id"][i]), notes_from_frames(d["mel"][a:b], d["onset"][a:b]), chords,
                           int(d["steps_per_bar"][i])))
        if limit and len(out) >= limit:
            break
    return out


def _triad(c: ChordSymbol | None) -> tuple[int, str] | None:
    return None if c is None else (c.root % 12, TRIAD_OF.get(c.quality, "maj"))


def run_song(planner: HarmonyPlanner, song: SimSong, lookahead: int = 1,
             shown: list[ChordSymbol | None] | None = None) -> list[ChordSymbol | None]:
    """The chord sounding at every step (and, into `shown`, the next chord shown once each step
    is planned: what /liveai/chord/next says while it waits)."""
    planner.reset()
    notes = song.notes
    T = len(song.chords)
    spb = song.steps_per_bar
    out: list[ChordSymbol | None] = []
    i = 0  # notes[:i] have started by the step being played
    for s in range(T):
        known = s - lookahead - 1
        planner.plan(s, spb, known, visible_player(notes[max(0, i - 64):i + 4], known))
        while i < len(notes) and notes[i].start_step <= s:
            i += 1
        if i and notes[i - 1].start_step == s:
            # the note arrives while it sounds: its end is not known yet
            heard = list(notes[max(0, i - 64):i - 1]) + [PlayerNote(notes[i - 1].pitch, 80, s, None)]
            heard = [n if n.end_step is None or n.end_step <= s else PlayerNote(n.pitch, 80, n.start_step, None)
                     for n in heard]
            planner.hear_melody(heard, s, spb)
        out.append(planner.chord)
        if shown is not None:
            shown.append(planner.next_chord)
    return out


def score_song(song: SimSong, played: Sequence[ChordSymbol | None], start_bar: int = 1,
               shown: Sequence[ChordSymbol | None] | None = None, seg: int | None = None) -> dict[str, float]:
    """Hits per beat and at the annotated changes; with `shown`, how many of the band's own changes
    were announced as next a beat ahead (the chord shown then is the chord that came), and with
    `seg` (steps per harmonic segment) how many fell off the segments' starts."""
    spb = song.steps_per_bar
    beats = [b for b in range(start_bar * spb, len(song.chords), 4) if song.chords[b] is not None]
    beat_hits = sum(_triad(played[b]) == _triad(song.chords[b]) for b in beats)
    late = sum(b >= 4 and _triad(song.chords[b - 4]) == _triad(song.chords[b]) for b in beats)
    changes = [k for k in range(start_bar * spb, len(song.chords))
               if song.chords[k] is not None and _triad(song.chords[k]) != _triad(song.chords[k - 1])]
    ch_hits = sum(_triad(played[k]) == _triad(song.chords[k]) for k in changes)
    exact = sum(played[b] is not None and played[b].root == song.chords[b].root
                and played[b].quality == song.chords[b].quality for b in beats)
    own = [k for k in range(max(1, start_bar * spb), len(played))
           if played[k] is not None and played[k - 1] is not None and played[k] != played[k - 1]]
    n_changes_played = sum(1 for k in range(1, len(played)) if _triad(played[k]) != _triad(played[k - 1]))
    out = {"beats": len(beats), "beat_hits": beat_hits, "late_hits": late, "changes": len(changes),
           "change_hits": ch_hits, "exact": exact, "played_changes": n_changes_played, "own_changes": len(own)}
    if shown is not None:
        out["announced"] = sum(k >= 4 and shown[k - 4] == played[k] for k in own)
    if seg:
        out["off_segment"] = sum((k % spb) % seg != 0 for k in own)
    return out


def evaluate(songs: Sequence[SimSong], make: Callable[[], HarmonyPlanner]) -> dict[str, float]:
    planner = make()
    tot: dict[str, float] = {}
    t0 = time.perf_counter()
    steps = 0
    from liveai.harmony.evidence import segment_steps
    for s in songs:
        shown: list[ChordSymbol | None] = []
        played = run_song(planner, s, shown=shown)
        r = score_song(s, played, shown=shown, seg=segment_steps(planner.settings.harmonic_rhythm, s.steps_per_bar))
        steps += len(s.chords)
        for k, v in r.items():
            tot[k] = tot.get(k, 0) + v
    B = max(1, tot["beats"])
    return {"beat": tot["beat_hits"] / B, "late_ref": tot["late_hits"] / B,
            "at_changes": tot["change_hits"] / max(1, tot["changes"]), "exact": tot["exact"] / B,
            "changes_per_true_change": tot["played_changes"] / max(1, tot["changes"]),
            "announced": tot["announced"] / max(1, tot["own_changes"]),
            "off_segment": tot["off_segment"] / max(1, tot["own_changes"]),
            "us_per_step": 1e6 * (time.perf_counter() - t0) / max(1, steps)}


def variant(spec: str, model_path: str | None) -> Callable[[], HarmonyPlanner]:
    """'planner' | 'model-only' | 'mix' with optional key=value settings: 'mix:model_weight=2'."""
    name, _, rest = spec.partition(":")
    kw: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        k, v = item.split("=")
        kw[k] = type(getattr(PlannerSettings(), k))(v) if not isinstance(getattr(PlannerSettings(), k), bool) \
            else v.lower() in ("1", "true", "yes")
    if name == "model-only":
        kw["model_only"] = True

    def make() -> HarmonyPlanner:
        cm = None
        if name != "planner":
            from liveai.neural.chordmodel import ChordModel
            cm = ChordModel(model_path)
        return HarmonyPlanner(PlannerSettings(**kw), chord_model=cm)
    return make


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m liveai.evaluation.plansim", description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--split", default="tune", choices=("tune", "val", "train"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--variants", default="planner;model-only;mix", help="';'-separated")
    a = ap.parse_args(argv)
    from pathlib import Path
    path = a.data or str(Path(__file__).resolve().parents[2] / "data" / "realsongs.npz")
    songs = sim_songs(path, a.split, a.limit)
    print(f"{len(songs)} songs ({a.split})")
    for v in a.variants.split(";"):
        r = evaluate(songs, variant(v.strip(), a.model))
        print(f"{v.strip():40s} " + "  ".join(f"{k} {x:.3f}" for k, x in r.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
