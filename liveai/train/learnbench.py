"""Does `liveai learn` make the band play more like the player? Bach as the player.

The player's body of work is Bach's chorales from music21 (the train extra): N of the chorales'
training split are written out as piano-part MIDI files (all four voices on one track, as a
keyboard player's file would be) and learnt by the real `liveai learn` code path; the first M
of the held-out test split (never learnt from; the ones `liveai evaluate --chorales` plays) are then
played through the real demo with the shipped chord model and with the personal one, and scored
against Bach's own harmony (implied chord, note-in-chord, beside the drone and Bach's voices).
Then the planner alone (liveai.evaluation.plansim) on the same held-out chorales, with and without
its memory of the progression, for the shipped and the personal model.

    python -m liveai.train.learnbench                  # 200 learnt, 30 played (about 3 minutes)
    python -m liveai.train.learnbench --train 40 --test 8 --updates 400   # what CI runs, smaller
    python -m liveai.train.learnbench --folk /work/.mirror/jukedeck+nottingham-dataset/repo  # 80 reels, 20 played
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import mido

METRICS = ("implied_alone", "note_in_chord", "f1", "bass_root", "distinct", "parallels")


def write_piece(piece: Any, path: Path, tempo: float = 80.0) -> Path:
    """A chorale as a one-track piano part (the voices' notes on one channel)."""
    mf = mido.MidiFile(type=1, ticks_per_beat=480)
    tr = mido.MidiTrack()
    mf.tracks.append(tr)
    tr.append(mido.MetaMessage("track_name", name="piano", time=0))
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0))
    tr.append(mido.MetaMessage("time_signature", numerator=piece.steps_per_bar // 4, denominator=4, time=0))
    events = []
    for v in range(piece.roll.shape[0]):
        r, o = piece.roll[v], piece.onset[v]
        k, T = 0, len(r)
        while k < T:
            if r[k] > 0:
                e = k + 1
                while e < T and r[e] == r[k] and not o[e]:
                    e += 1
                events += [(k * 120, 1, int(r[k])), (e * 120, 0, int(r[k]))]
                k = e
            else:
                k += 1
    last = 0
    for t, on, p in sorted(events):
        tr.append(mido.Message("note_on" if on else "note_off", note=p, velocity=80 if on else 0, time=t - last))
        last = t
    mf.save(str(path))
    return path


def player_pieces(n: int, split_seed: int = 1234) -> list[Any]:
    """The first n chorales (by name) of the training split, 4/4 and 3/4: the player's files."""
    from liveai.corpus import pieces as D
    train, _, _ = D.split_pieces(D.load_chorales(), seed=split_seed)
    return sorted((p for p in train if p.steps_per_bar in (12, 16)), key=lambda p: p.name)[:n]


def memory_table(songs, personal_path: Path, card: dict) -> dict[str, float]:
    """Beat accuracy of the planner alone: shipped/personal model x progression memory on/off."""
    from liveai.evaluation.plansim import SimSong, evaluate, variant
    from liveai.harmony.chordvocab import index_chord
    from liveai.music.notes import notes_from_frames
    sims = [SimSong(s.song_id, notes_from_frames(s.mel, s.onset), [index_chord(int(t)) for t in s.target],
                    s.steps_per_bar) for s in songs]
    off = ",memory=0,phrase_memory=0"
    own = f"model_weight={card['model_weight']},evidence={card.get('evidence', 0.9)}"
    out = {}
    for label, path, spec in (("shipped, with memory", None, "mix"), ("shipped, no memory", None, "mix:" + off[1:]),
                              ("personal, with memory", personal_path, f"mix:{own}"),
                              ("personal, no memory", personal_path, f"mix:{own}{off}"),
                              ("personal, without its progressions", personal_path,
                               f"mix:{own},learnt_progressions=0"),
                              ("memory alone (no model)", None, "planner")):
        out[label] = float(evaluate(sims, variant(spec, None if path is None else str(path)))["beat"])
    return out


def run_learnt(files: Path, cases: list, test_songs: list, updates: int, jobs: int, wd: Path, log=print) -> dict:
    """Learn the player's files, then play the held-out cases with the shipped and the personal
    chord model (and the planner alone on the held-out songs)."""
    from liveai.evaluation.runner import evaluate_cases, means
    from liveai.train.finetune import FineTuneSettings
    from liveai.train.learn import learn
    card = learn([str(files)], "player", FineTuneSettings(updates=updates, minutes=10.0), root=wd / "models",
                 log=lambda s: None)
    model = wd / "models" / "player" / "chords.onnx"
    log(f"learnt {card['songs']} songs in {card['seconds']:.0f} s ({card['learn']['updates']} updates); "
        f"model trusted x{card['model_weight']:g}, melody x{card.get('evidence', 0.9):g}")
    res = evaluate_cases(cases, ["model", f"model --chord-model {model}"], 1, str(wd / "eval"), jobs)
    m = means(res)
    cols = {"shipped": m["model"], "personal": m[f"model --chord-model {model}"], "drone": m["drone"],
            "true chords": m["ceiling"]}
    for ref in ("bach", "late"):
        if ref in m:
            cols[ref] = m[ref]
    mem = memory_table(test_songs, model, card)
    return {"train": card["songs"], "test": len(cases), "learn_seconds": card["seconds"], "card": card,
            "band": {k: {x: v.get(x) for x in METRICS} for k, v in cols.items()}, "planner": mem}


def run(train_n: int = 200, test_n: int = 30, updates: int = 2000, jobs: int = 2, workdir: str | None = None,
        log=print) -> dict:
    """Bach as the player."""
    from liveai.evaluation.chorales import chorale_cases, held_out_chorales
    from liveai.train.playerfiles import read_file
    with tempfile.TemporaryDirectory(prefix="liveai-personal-") as tmp:
        wd = Path(workdir or tmp)
        files, test_files = wd / "player", wd / "test"
        files.mkdir(parents=True, exist_ok=True)
        test_files.mkdir(exist_ok=True)
        for p in player_pieces(train_n):
            write_piece(p, files / (p.name.replace("/", "_") + ".mid"))
        songs = [read_file(write_piece(p, test_files / (p.name.replace("/", "_") + ".mid"))).song
                 for p in held_out_chorales(test_n)]
        r = run_learnt(files, chorale_cases(test_n), [s for s in songs if s is not None], updates, jobs, wd, log)
    return {**r, "player": "Bach"}


def folk_case(song):
    """An evaluation case of a folk tune read as a player's file (its chord track is the truth)."""
    from types import SimpleNamespace

    import numpy as np

    from liveai.evaluation.realsongs import case_of_song
    from liveai.harmony.chordvocab import NO_CHORD, QUALITIES
    from liveai.train.learn import song_key
    has = song.target < NO_CHORD
    root = np.where(has, song.target // len(QUALITIES), -1)
    k = song_key(song)
    view = SimpleNamespace(mel=song.mel, onset=song.onset, root=root, quality=np.where(has, song.target % len(QUALITIES), -1),
                           bass=np.where(has & (song.bass >= 0), (root + np.maximum(song.bass, 0)) % 12, -1),
                           steps_per_bar=song.steps_per_bar, song_id=song.song_id, tempo=120.0,
                           key_tonic=k.tonic if k else 0, key_minor=bool(k.minor) if k else False)
    return case_of_song(view, None, "folk")


def run_folk(repo: str, kind: str = "reels", train_n: int = 80, test_n: int = 20, updates: int = 2000,
             jobs: int = 2, workdir: str | None = None, seed: int = 7, log=print) -> dict:
    """A folk player: the Nottingham tunes of one kind (their MIDI files: melody and chord tracks),
    read from a local clone (`fetch github:jukedeck/nottingham-dataset`; GPLv3, measured only: never
    copied into the repository); train_n learnt, test_n others played."""
    import subprocess

    import numpy as np

    from liveai.train.playerfiles import read_file
    names = subprocess.run(["git", "--git-dir", repo, "ls-tree", "--name-only", "HEAD", "MIDI/"],
                           capture_output=True, text=True, check=True).stdout.split()
    names = sorted(n for n in names if n.rsplit("/", 1)[-1].startswith(kind) and n.endswith(".mid"))
    order = np.random.default_rng(seed).permutation(len(names))
    with tempfile.TemporaryDirectory(prefix="liveai-folk-") as tmp:
        wd = Path(workdir or tmp)
        files, test_files = wd / "player", wd / "test"
        files.mkdir(parents=True, exist_ok=True)
        test_files.mkdir(exist_ok=True)

        def take(i: int, folder: Path) -> Path:
            data = subprocess.run(["git", "--git-dir", repo, "show", f"HEAD:{names[i]}"], capture_output=True,
                                  check=True).stdout
            out = folder / names[i].rsplit("/", 1)[-1]
            out.write_bytes(data)
            return out
        for i in order[:train_n]:
            take(int(i), files)
        songs, cases = [], []
        for i in order[train_n:]:
            if len(cases) >= test_n:
                break
            f = read_file(take(int(i), test_files))
            c = None if f.song is None else folk_case(f.song)
            if c is not None:
                songs.append(f.song)
                cases.append(c)
        r = run_learnt(files, cases, songs, updates, jobs, wd, log)
    return {**r, "player": f"Nottingham {kind}"}


def report(r: dict) -> str:
    names = [n for n in ("shipped", "personal", "drone", "true chords", "bach", "late") if n in r["band"]]
    lines = [f"# {r['player']} as the player: {r['train']} songs learnt, {r['test']} held out played", "",
             "| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for x in METRICS:
        lines.append(f"| {x} | " + " | ".join(f"{r['band'][n][x]:.3f}" if r['band'][n].get(x) is not None else ""
                                                  for n in names) + " |")
    b = r["band"]
    lines += ["", f"personal - shipped: implied chord {b['personal']['implied_alone'] - b['shipped']['implied_alone']:+.3f}, "
              f"note-in-chord {b['personal']['note_in_chord'] - b['shipped']['note_in_chord']:+.3f}", "",
              "planner alone on the held-out songs (share of beats on the chord the files name):"]
    lines += [f"- {k}: {v:.3f}" for k, v in r["planner"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m liveai.train.learnbench", description=__doc__.split("\n")[0])
    ap.add_argument("--folk", metavar="GIT_DIR", help="the Nottingham tunes instead of Bach: the git directory "
                    "of a clone of jukedeck/nottingham-dataset (GPLv3: measured only, never copied here)")
    ap.add_argument("--kind", default="reels", help="with --folk: which tunes (reels, jigs, hpps, ...)")
    ap.add_argument("--train", type=int, default=None, help="songs learnt (default 200 chorales, 80 tunes)")
    ap.add_argument("--test", type=int, default=None, help="held-out songs played (default 30 chorales, 20 tunes)")
    ap.add_argument("--updates", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--workdir", help="keep the files, the model and the takes here")
    ap.add_argument("--json", dest="json_out")
    a = ap.parse_args(argv)
    log = lambda s: print(s, file=sys.stderr)  # noqa: E731
    if a.folk:
        r = run_folk(a.folk, a.kind, a.train or 80, a.test or 20, a.updates, a.jobs, a.workdir, log=log)
    else:
        r = run(a.train or 200, a.test or 30, a.updates, a.jobs, a.workdir, log=log)
    print(report(r))
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(r, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
