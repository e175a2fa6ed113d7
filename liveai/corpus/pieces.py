"""Corpus extraction: music21's bundled corpus -> piano-roll arrays on the 16th-note grid.

Every piece becomes an int16 array `roll` of shape (parts, T) with the sounding MIDI pitch at each
step (0 = silent) and a bool array `onset` of the same shape (True where a note starts). Steps are
16th notes; a pickup bar is padded so that step 0 is beat 1 of a full bar, as in the engine.
Chorales have four parts (soprano, alto, tenor, bass); folk tunes one (the melody).

Extraction is slow (music21 parsing), so results are cached as .npz + .json (no pickle) under the
cache dir; reruns load in a second.
"""
from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = REPO_ROOT / ".cache" / "liveai-train"
CACHE_VERSION = 2
SATB = ("soprano", "alto", "tenor", "bass")


@dataclass
class Piece:
    name: str
    steps_per_bar: int
    roll: np.ndarray  # (parts, T) int16, 0 = silent
    onset: np.ndarray  # (parts, T) bool

    @property
    def length(self) -> int:
        return int(self.roll.shape[1])


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    d = Path(path or os.environ.get("LIVEAI_TRAIN_CACHE") or DEFAULT_CACHE)
    d.mkdir(parents=True, exist_ok=True)
    ign = d / ".gitignore"  # keep the cache out of git without touching the repo's .gitignore
    if not ign.exists():
        ign.write_text("*\n")
    return d


class Progress:
    """Minimal progress bar: tqdm if installed, else a line every few seconds."""

    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.n, self.t0, self.last = total, desc, 0, time.time(), 0.0
        try:
            from tqdm import tqdm  # type: ignore
            self.bar = tqdm(total=total, desc=desc, file=sys.stderr)
        except Exception:
            self.bar = None

    def update(self, k: int = 1) -> None:
        self.n += k
        if self.bar is not None:
            self.bar.update(k)
            return
        now = time.time()
        if now - self.last > 3 or self.n == self.total:
            self.last = now
            el = now - self.t0
            eta = el / max(self.n, 1) * (self.total - self.n)
            print(f"  {self.desc}: {self.n}/{self.total} ({el:.0f}s, eta {eta:.0f}s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- music21 extraction

def _part_events(part, shift_ql: float):
    """(start_step, end_step, pitch) for the top note of every note/chord of a part, ties merged."""
    from music21 import chord as m21chord
    events = []
    flat = part.stripTies().flatten().notes
    for n in flat:
        if n.duration.quarterLength <= 0:  # grace notes
            continue
        if isinstance(n, m21chord.Chord):
            p = max(x.midi for x in n.pitches)
        else:
            p = n.pitch.midi
        s = int(round((float(n.offset) + shift_ql) * 4))
        e = int(round((float(n.offset) + float(n.duration.quarterLength) + shift_ql) * 4))
        if e <= s:
            e = s + 1
        events.append((s, e, int(p)))
    return events


def _meter_and_shift(part):
    """(steps_per_bar, shift in quarter lengths so that a pickup ends a full bar)."""
    from music21 import meter
    ts = part.recurse().getElementsByClass(meter.TimeSignature).first()
    bar_ql = float(ts.barDuration.quarterLength) if ts is not None else 4.0
    spb = int(round(bar_ql * 4))
    measures = list(part.getElementsByClass("Measure"))
    shift = 0.0
    if measures:
        m0 = measures[0]
        dur0 = float(m0.duration.quarterLength)
        if 0 < dur0 < bar_ql - 1e-6:
            shift = bar_ql - dur0
        elif float(getattr(m0, "paddingLeft", 0) or 0) > 0:
            shift = float(m0.paddingLeft)
    return spb, shift


def _roll_from_events(parts_events, total: int):
    P = len(parts_events)
    roll = np.zeros((P, total), np.int16)
    onset = np.zeros((P, total), bool)
    for i, evs in enumerate(parts_events):
        for s, e, p in evs:
            if s >= total:
                continue
            roll[i, s:min(e, total)] = p
            onset[i, s] = True
    return roll, onset


def extract_chorale(name: str):
    """Parse one chorale; None if it is not a plain SATB chorale."""
    from music21 import corpus
    try:
        sc = corpus.parse(name)
    except Exception:
        return None
    parts = list(sc.parts)
    by_name = {}
    for p in parts:
        label = (p.partName or p.id or "").strip().lower()
        for v in SATB:
            if label.startswith(v) and v not in by_name:
                by_name[v] = p
    if len(by_name) != 4:
        if len(parts) == 4:
            by_name = dict(zip(SATB, parts))
        else:
            return None
    spb, shift = _meter_and_shift(by_name["soprano"])
    if spb <= 0 or spb > 48:
        return None
    evs = [_part_events(by_name[v], shift) for v in SATB]
    if any(not e for e in evs):
        return None
    total = max(e[-1][1] for e in evs)
    roll, onset = _roll_from_events(evs, total)
    return dict(name=name, steps_per_bar=spb, roll=roll, onset=onset)


def _folk_scores(path: str, max_tunes: int = 10**9):
    """Parse at most max_tunes tunes (evenly spread) of an ABC collection: parsing a whole
    Essen file takes a minute, so the text is cut into tunes first."""
    import re
    from music21 import converter, stream
    try:
        text = Path(path).read_text(encoding="latin-1")
        starts = [m.start() for m in re.finditer(r"(?m)^X:", text)]
        if len(starts) > max_tunes:
            every = len(starts) / max_tunes
            keep = sorted({int(i * every) for i in range(max_tunes)})
            ends = starts[1:] + [len(text)]
            text = text[:starts[0]] + "".join(text[starts[i]:ends[i]].rstrip() + "\n\n" for i in keep)
        obj = converter.parseData(text, format="abc")
    except Exception:
        return []
    if isinstance(obj, stream.Opus):
        return list(obj.scores)
    return [obj]


def extract_folk_file(path: str, max_tunes: int = 10**9):
    out = []
    stem = Path(path).parent.name + "/" + Path(path).stem
    for i, sc in enumerate(_folk_scores(path, max_tunes)[:max_tunes]):
        try:
            parts = list(sc.parts) or [sc]
            part = parts[0]
            spb, shift = _meter_and_shift(part)
            if spb <= 0 or spb > 48:
                continue
            ev = _part_events(part, shift)
            if len(ev) < 8:
                continue
            total = ev[-1][1]
            roll, onset = _roll_from_events([ev], total)
            title = getattr(sc.metadata, "title", None) if sc.metadata is not None else None
            out.append(dict(name=f"{stem}#{i}" + (f" {title}" if title else ""), steps_per_bar=spb,
                            roll=roll, onset=onset))
        except Exception:
            continue
    return out


def _save(pieces: list[dict], base: Path) -> None:
    arrays = {}
    meta = []
    for i, p in enumerate(pieces):
        arrays[f"r{i}"] = p["roll"]
        arrays[f"o{i}"] = p["onset"]
        meta.append(dict(name=p["name"], steps_per_bar=int(p["steps_per_bar"])))
    np.savez_compressed(base.with_suffix(".npz"), **arrays)
    base.with_suffix(".json").write_text(json.dumps(dict(version=CACHE_VERSION, pieces=meta)))


def _load(base: Path) -> list[Piece] | None:
    j, z = base.with_suffix(".json"), base.with_suffix(".npz")
    if not (j.exists() and z.exists()):
        return None
    meta = json.loads(j.read_text())
    if meta.get("version") != CACHE_VERSION:
        return None
    with np.load(z, allow_pickle=False) as arr:
        return [Piece(m["name"], m["steps_per_bar"], arr[f"r{i}"], arr[f"o{i}"]) for i, m in enumerate(meta["pieces"])]


def _run_pool(fn, items, desc: str, workers: int):
    prog = Progress(len(items), desc)
    results = []
    if workers <= 1:
        for it in items:
            results.append(fn(it))
            prog.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            for r in ex.map(fn, items, chunksize=2):
                results.append(r)
                prog.update()
    prog.close()
    return results


def chorale_names() -> list[str]:
    from music21 import corpus
    return sorted(set(str(n) for n in corpus.chorales.Iterator(returnType="filename")))


def load_chorales(cache: Path | None = None, max_pieces: int | None = None, workers: int = 2) -> list[Piece]:
    """All four-part Bach chorales (cached); max_pieces limits extraction (not cached then)."""
    cache = cache_dir(cache)
    base = cache / "chorales"
    if max_pieces is None:
        got = _load(base)
        if got is not None:
            return got
    names = chorale_names()
    if max_pieces is not None:
        names = names[:max_pieces]
    res = _run_pool(extract_chorale, names, "chorales", workers)
    pieces = [r for r in res if r is not None]
    # drop duplicate settings (same soprano line + bass line)
    seen, uniq = set(), []
    for p in pieces:
        key = p["roll"].tobytes()
        if key in seen:
            continue
        seen.add(key)
        uniq.append(p)
    if max_pieces is None:
        _save(uniq, base)
    return [Piece(p["name"], p["steps_per_bar"], p["roll"], p["onset"]) for p in uniq]


def folk_paths() -> list[str]:
    from music21 import corpus
    paths = []
    # every k-th file of each collection: whole-opus ABC files take 20-60 s each to parse
    for comp, every in (("essenFolksong", 1), ("ryansMammoth", 3), ("oneills1850", 4)):
        try:
            ps = corpus.getComposer(comp) or corpus.getWork(comp)
        except Exception:
            ps = []
        paths += sorted(str(p) for p in ps)[::every]
    return paths


def _folk_job(arg):
    path, k = arg
    return extract_folk_file(path, k)


def load_folk(cache: Path | None = None, max_files: int | None = None, tunes_per_file: int = 40,
              workers: int = 2) -> list[Piece]:
    """Folk melodies (Essen, Ryan's Mammoth, O'Neill), at most tunes_per_file per collection file."""
    cache = cache_dir(cache)
    base = cache / f"folk_{tunes_per_file}"
    if max_files is None:
        got = _load(base)
        if got is not None:
            return got
    paths = folk_paths()
    if max_files is not None:
        paths = paths[:: max(1, len(paths) // max_files)][:max_files]
    res = _run_pool(_folk_job, [(p, tunes_per_file) for p in paths], "folk files", workers)
    pieces = [p for r in res for p in r]
    if max_files is None:
        _save(pieces, base)
    return [Piece(p["name"], p["steps_per_bar"], p["roll"], p["onset"]) for p in pieces]


# --------------------------------------------------------------------------- split

def split_pieces(pieces: list[Piece], seed: int = 1234, val: float = 0.1, test: float = 0.1):
    """Deterministic split by piece name: (train, val, test)."""
    names = sorted(p.name for p in pieces)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(names))
    n_test = max(1, int(round(len(names) * test))) if len(names) >= 3 else 0
    n_val = max(1, int(round(len(names) * val))) if len(names) >= 3 else 0
    test_names = {names[i] for i in order[:n_test]}
    val_names = {names[i] for i in order[n_test:n_test + n_val]}
    tr = [p for p in pieces if p.name not in test_names and p.name not in val_names]
    va = [p for p in pieces if p.name in val_names]
    te = [p for p in pieces if p.name in test_names]
    return tr, va, te


if __name__ == "__main__":  # python -m liveai.corpus.pieces : warm the cache
    t = time.time()
    ch = load_chorales()
    print(f"{len(ch)} chorales, {sum(p.length for p in ch)} steps, {time.time() - t:.0f}s")
    t = time.time()
    fk = load_folk()
    print(f"{len(fk)} folk tunes, {sum(p.length for p in fk)} steps, {time.time() - t:.0f}s")
