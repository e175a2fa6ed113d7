"""`liveai learn FILES --name NAME`: a player's own model from their files and takes, in minutes.

Reads the files (liveai.train.playerfiles: one line for each file skipped, and why), keeps about
one song in eight aside (the player's own held-out songs), fine-tunes the shipped chord model on
the rest (liveai.train.finetune, numpy: no torch, so it runs on the box), then measures on the
held-out songs how often the model names the chord (teacher forced) and how often the planner
plays it (liveai.evaluation.plansim, as the engine plans) with the shipped model and the personal
one, and picks how much the planner should trust the personal model. Writes the model folder
(liveai.neural.personal) all at once: a failed or interrupted run leaves the previous one as it was.
The shipped model and the player's files are only read.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from liveai.io.safefile import write_file
from liveai.harmony.chordvocab import NO_CHORD, QUALITIES, index_chord
from liveai.music.notes import notes_from_frames
from liveai.neural import personal
from liveai.neural.chordmodel import DEFAULT_CHORD_MODEL_PATH
from liveai.train import finetune as ft
from liveai.train.chorddata import Song
from liveai.train.playerfiles import find_files, read_file

WEIGHTS = (1.0, 2.0, 4.0)  # how much the planner may trust a personal model (chosen on held-out songs)
EVIDENCE = (0.9, 1.5)  # how much the melody says (0.9: the built-in; more where the tune sits on chord tones)
ROMAN = ("I", "bII", "II", "bIII", "III", "IV", "#IV", "V", "bVI", "VI", "bVII", "VII")


def held_out(song_id: str) -> bool:
    """About one song in eight, by a stable hash of its name (the same split on every run)."""
    return zlib.crc32(song_id.encode()) % 8 == 0


def split(songs: list[Song]) -> tuple[list[Song], list[Song]]:
    if len(songs) < 5:
        return songs, []
    test = [s for s in songs if held_out(s.song_id)]
    if not test:  # a small set can miss every eighth: keep the last one aside
        test = songs[-1:]
    return [s for s in songs if s not in test], test


# ----------------------------------------------------------------------------- what it learnt

def song_key(s: Song):
    from liveai.harmony.keyfinding import melody_key
    return melody_key(notes_from_frames(s.mel, s.onset), len(s.mel))


def chord_changes(s: Song) -> list[int]:
    """The song's chord classes, one per change (beats without a chord left out)."""
    out: list[int] = []
    for c in s.target[::4]:
        if c < NO_CHORD and (not out or out[-1] != c):
            out.append(int(c))
    return out


def degree(cls: int, tonic: int) -> str:
    ch = index_chord(cls)
    if ch is None:
        return "-"
    r = ROMAN[(ch.root - tonic) % 12]
    q = QUALITIES[cls % len(QUALITIES)]
    return (r.lower() if q in ("min", "m7", "dim", "m7b5") else r) + {"7": "7", "maj7": "maj7", "m7": "7",
                                                                          "dim": "o", "m7b5": "o7", "aug": "+",
                                                                          "sus4": "sus"}.get(q, "")


def describe(songs: list[Song]) -> dict:
    keys: Counter = Counter()
    chords: Counter = Counter()
    progs: Counter = Counter()
    bars = 0
    for s in songs:
        bars += len(s.mel) // s.steps_per_bar
        k = song_key(s)
        tonic = k.tonic if k is not None else 0
        if k is not None:
            keys[str(k)] += 1
        seq = [degree(c, tonic) for c in chord_changes(s)]
        chords.update(seq)
        progs.update(" ".join(seq[i:i + 3]) for i in range(len(seq) - 2))
    return {"songs": len(songs), "bars": bars, "keys": keys.most_common(5),
            "chords": chords.most_common(8), "progressions": progs.most_common(5)}


def progressions(songs: list[Song]) -> dict:
    """The player's chord-to-chord counts in their songs' keys, as the planner reads them
    (liveai.harmony.planner: triads by degree, "semitones above the tonic,quality")."""
    from liveai.harmony.chordvocab import TRIAD_NAMES, TRIAD_OF_CLASS
    out: dict = {"major": {"prior": {}, "next": {}}, "minor": {"prior": {}, "next": {}}}
    for s in songs:
        k = song_key(s)
        if k is None:
            continue
        t = out["minor" if k.minor else "major"]
        seq: list[str] = []
        for c in chord_changes(s):
            tri = int(TRIAD_OF_CLASS[c])
            if tri < 0:
                continue
            root, q = divmod(tri, 3)
            name = f"{(root - k.tonic) % 12},{TRIAD_NAMES[q]}"
            if not seq or seq[-1] != name:
                seq.append(name)
        for a, b in zip(seq, seq[1:]):
            row = t["next"].setdefault(a, {})
            row[b] = row.get(b, 0) + 1
        for a in seq:
            t["prior"][a] = t["prior"].get(a, 0) + 1
    return out


# ----------------------------------------------------------------------------- measuring

def planner_share(songs: list[Song], model_path: Path, weight: float, evidence: float = 0.9) -> float:
    """Share of beats on which the planner, as the engine runs it, plays the song's chord."""
    from liveai.evaluation.plansim import SimSong, evaluate, variant
    sims = [SimSong(s.song_id, notes_from_frames(s.mel, s.onset), [index_chord(int(t)) for t in s.target],
                    s.steps_per_bar) for s in songs]
    return float(evaluate(sims, variant(f"mix:model_weight={weight},evidence={evidence}", str(model_path)))["beat"])


def progress_bar(out=sys.stderr) -> Callable[[int, int, float, float], None]:
    """A bar redrawn in place on a terminal; a line every tenth of the way into a log."""
    tty = hasattr(out, "isatty") and out.isatty()

    def show(done: int, total: int, loss: float, secs: float) -> None:
        if not tty and done % max(1, total // 10) and done < total:
            return
        left = secs / max(1, done) * (total - done)
        n = int(30 * done / max(1, total))
        out.write(("\r" if tty else "") + f"  [{'#' * n}{'.' * (30 - n)}] {done}/{total} updates, loss {loss:.2f}, "
                  f"{secs:.0f} s, about {left:.0f} s left ")
        if done >= total or not tty:
            out.write("\n")
        out.flush()
    return show


# ----------------------------------------------------------------------------- the run

def learn(paths: list[str], name: str, settings: ft.FineTuneSettings = ft.FineTuneSettings(),
          max_files: int = 2000, base_path: Path | None = None, log: Callable[[str], None] = print,
          progress: Callable | None = None, root: Path | None = None) -> dict:
    """Learn a personal model NAME from paths; returns its card (also written beside it).
    root: the models folder (default: the per-user one, liveai.neural.personal.models_dir())."""
    root = Path(root) if root is not None else personal.models_dir()
    personal.check_name(name)
    base_path = Path(base_path or DEFAULT_CHORD_MODEL_PATH)
    t0 = time.perf_counter()
    songs: list[Song] = []
    used, skipped = [], []
    sources = Counter()
    for f, why in find_files(paths, max_files):
        found = None if why else read_file(f)
        if found is None or found.song is None:
            reason = why or found.reason
            skipped.append((str(f), reason))
            log(f"skipped {f}: {reason}")
            continue
        found.song.song_id = f"{len(songs):05d}-{f.stem}"
        songs.append(found.song)
        used.append(str(f))
        sources[found.chords_from] += 1
    read_s = time.perf_counter() - t0
    if not songs:
        raise ValueError(f"nothing to learn from: {len(skipped)} file(s) skipped, none with a melody and chords")
    train, test = split(songs)
    log(f"read {len(songs)} songs in {read_s:.1f} s (chords from the notes: {sources['notes']}, from chord "
        f"names: {sources['symbols']}); {len(train)} to learn from, {len(test)} kept aside to measure")
    base = ft.load_weights(base_path)
    w, info = ft.fine_tune(base, train, settings, progress)
    card: dict = {"name": name, "date": time.strftime("%Y-%m-%d %H:%M"), "files": len(used) + len(skipped),
                  "used": used, "skipped": [f"{f}: {r}" for f, r in skipped], "learn": info,
                  "settings": settings.__dict__, "base": base_path.name, **describe(songs), "model_weight": 1.0}
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}.", dir=str(root)) as tmp:
        new = Path(tmp) / name
        new.mkdir()
        prog = progressions(train)
        ft.write_model(base_path, w, new / "chords.onnx", {"personal": name, "model_weight": 1.0, "progressions": prog})
        if test:
            rng = np.random.default_rng(0)
            fr = ft.frames_of(test, base, rng)
            acc_base, acc_own = ft.accuracy(base, fr)["d0"], ft.accuracy(w, fr)["d0"]
            shipped = planner_share(test, base_path, 1.0)
            tries = {(wt, ev): planner_share(test, new / "chords.onnx", wt, ev) for wt in WEIGHTS for ev in EVIDENCE}
            # the best on the songs kept aside; among near ties the built-in settings (the fewest changes)
            best = max(tries, key=lambda k: (round(tries[k], 2), -k[0], -k[1]))
            card["model_weight"], card["evidence"] = best
            card["held_out"] = {"songs": len(test), "heard_shipped": acc_base, "heard_personal": acc_own,
                                "shipped": shipped, "personal": tries[best],
                                "by_setting": {f"x{k[0]:g} evidence {k[1]:g}": v for k, v in tries.items()}}
            # the model's own card tells the planner how much to trust it and the melody
            ft.write_model(base_path, w, new / "chords.onnx", {"personal": name, "model_weight": best[0],
                                                               "evidence": best[1], "progressions": prog})
        write_file(new / "style.json", _style(songs).encode())
        card["seconds"] = time.perf_counter() - t0
        (new / "card.json").write_text(json.dumps(card, indent=1))
        (new / "card.md").write_text(card_text(card))
        _install(new, root / name)
    return card


def _install(new: Path, dest: Path) -> None:
    """Swap the new folder in with renames (same file system), the old one out, then drop it."""
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
    os.replace(new, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _style(songs: list[Song]):
    from liveai.music.stylememory import StyleMemory
    mem = StyleMemory()
    for s in songs:
        notes = notes_from_frames(s.mel, s.onset)
        line = [(n.pitch, max(1, (n.end_step or n.start_step + 1) - n.start_step)) for n in notes]
        if len(line) >= 3:
            mem.learn_notes(line)
    return mem


def card_text(c: dict) -> str:
    lines = [f"# {c['name']}: a personal chord model", "",
             f"Learnt {c['date']} from {c['songs']} songs ({c['bars']} bars) of {c['files']} files, "
             f"in {c.get('seconds', 0):.0f} s ({c['learn']['updates']} updates, "
             f"{c['learn']['ms_per_update']:.0f} ms each), from the built-in {c['base']}.", ""]
    if c.get("held_out"):
        h = c["held_out"]
        lines += [f"On {h['songs']} of the player's songs kept aside (not learnt from):",
                  f"- chord named by the model (teacher forced, the chord sounding now): shipped {h['heard_shipped']:.2f}, "
                  f"personal {h['heard_personal']:.2f}",
                  f"- chord the planner plays, per beat: shipped {h['shipped']:.2f}, personal {h['personal']:.2f} "
                  f"(model trusted x{c['model_weight']:g}, melody x{c.get('evidence', 0.9):g})", ""]
    else:
        lines += ["Too few songs to keep any aside: no figures on the player's own songs.", ""]
    lines += ["Keys: " + ", ".join(f"{k} ({n})" for k, n in c["keys"]),
              "Chords: " + ", ".join(f"{k} ({n})" for k, n in c["chords"]),
              "Progressions: " + ", ".join(f"{k} ({n})" for k, n in c["progressions"]), ""]
    if c["skipped"]:
        lines += [f"Skipped {len(c['skipped'])} files:"] + [f"- {s}" for s in c["skipped"][:50]]
        if len(c["skipped"]) > 50:
            lines.append(f"- ... and {len(c['skipped']) - 50} more")
    return "\n".join(lines) + "\n"


def run_command(paths: list[str], name: str, updates: int, minutes: float, max_files: int) -> int:
    """`liveai learn PATHS --name NAME`: learn, print the card and how to play with it."""
    card = learn(paths, name, ft.FineTuneSettings(updates=updates, minutes=minutes), max_files=max_files,
                 progress=progress_bar())
    folder = personal.models_dir() / name
    print((folder / "card.md").read_text())
    print(f"wrote {folder}; play with it: liveai run --model {name}  (or: liveai demo --model {name})")
    return 0 if card["songs"] else 1
