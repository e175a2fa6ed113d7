"""Style memory: a variable-order Markov model of a player's melodic intervals and rhythms, after
Pachet's Continuator. It learns live from the session (and, as a prior, from a profile built by
`liveai learn` from the player's own MIDI files), and answers can sample from it so they take on
the player's licks. Pure Python and numpy: fast enough on a Pi, no torch.

Symbols are (interval in semitones clipped to +-12, duration in 16th steps clipped to 1..16).
"""
from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

Symbol = tuple[int, int]
MAX_ORDER = 4
FORMAT = "liveai-style-1"


def symbols(notes: Sequence[tuple[int, int]]) -> list[Symbol]:
    """(pitch, duration in steps) notes -> (interval from previous, duration) symbols."""
    out = []
    for i in range(1, len(notes)):
        iv = max(-12, min(12, notes[i][0] - notes[i - 1][0]))
        out.append((iv, max(1, min(16, int(notes[i][1])))))
    return out


@dataclass
class StyleMemory:
    """Counts of continuations after contexts of length 0..MAX_ORDER."""

    counts: dict[tuple[Symbol, ...], Counter] = field(default_factory=lambda: defaultdict(Counter))
    n_symbols: int = 0

    def learn(self, seq: Sequence[Symbol], weight: float = 1.0) -> None:
        for i, sym in enumerate(seq):
            for k in range(0, MAX_ORDER + 1):
                if i - k < 0:
                    break
                ctx = tuple(seq[i - k:i])
                self.counts[ctx][sym] += weight
            self.n_symbols += 1

    def learn_notes(self, notes: Sequence[tuple[int, int]], weight: float = 1.0) -> None:
        self.learn(symbols(notes), weight)

    def distribution(self, history: Sequence[Symbol]) -> tuple[list[Symbol], np.ndarray] | None:
        """Continuations of the longest context seen before, with probabilities (None if empty)."""
        for k in range(min(MAX_ORDER, len(history)), -1, -1):
            ctx = tuple(history[len(history) - k:]) if k else ()
            c = self.counts.get(ctx)
            if c:
                syms = sorted(c)
                p = np.array([c[s] for s in syms], dtype=float)
                return syms, p / p.sum()
        return None

    def sample(self, history: Sequence[Symbol], rng: np.random.Generator) -> Symbol | None:
        """Sample a continuation. The context order is drawn at random (longer ones likelier),
        not always the longest match, so answers recombine the style instead of looping on one
        remembered phrase."""
        orders = []
        for k in range(0, min(MAX_ORDER, len(history)) + 1):
            ctx = tuple(history[len(history) - k:]) if k else ()
            c = self.counts.get(ctx)
            if c:
                orders.append((k, c))
        if not orders:
            return None
        w = np.array([k + 1.0 for k, _ in orders])
        k, c = orders[int(rng.choice(len(orders), p=w / w.sum()))]
        syms = sorted(c)
        p = np.array([c[s] for s in syms], dtype=float)
        return syms[int(rng.choice(len(syms), p=p / p.sum()))]

    def merged(self, other: "StyleMemory", weight: float = 1.0) -> "StyleMemory":
        m = StyleMemory()
        for src, w in ((self, 1.0), (other, weight)):
            for ctx, c in src.counts.items():
                for s, n in c.items():
                    m.counts[ctx][s] += n * w
            m.n_symbols += src.n_symbols
        return m

    # ---------------------------------------------------------------- profiles on disk (JSON, no pickle)
    def to_json(self) -> dict:
        return {"format": FORMAT, "n_symbols": self.n_symbols,
                "counts": [[[list(s) for s in ctx], [[list(s), n] for s, n in c.items()]]
                           for ctx, c in self.counts.items()]}

    @classmethod
    def from_json(cls, data: dict) -> "StyleMemory":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a liveai style profile (expected format {FORMAT})")
        m = cls()
        try:
            for ctx, conts in data["counts"]:
                key = tuple((int(a), int(b)) for a, b in ctx)
                if len(key) > MAX_ORDER:
                    raise ValueError("context too long")
                for (a, b), n in conts:
                    m.counts[key][(int(a), int(b))] += float(n)
            m.n_symbols = int(data.get("n_symbols", 0))
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(f"corrupt style profile: {e}") from None
        return m

    def encode(self) -> bytes:
        """The profile as a file's bytes; the caller writes them (liveai.io.safefile.write_file),
        since music/ is pure and below io/."""
        return json.dumps(self.to_json()).encode()

    @classmethod
    def load(cls, path: str | os.PathLike) -> "StyleMemory":
        path = Path(path)
        if path.stat().st_size > 64 * 1024 * 1024:
            raise ValueError(f"style profile {path} is too large")
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"cannot read style profile {path}: {e}") from None
        return cls.from_json(data)


def melody_of_midi(path: str | os.PathLike, bpm_default: float = 120.0) -> list[list[tuple[int, int]]]:
    """Monophonic lines of a MIDI file as (pitch, duration in 16th steps) per track: the top
    note of each onset, durations quantised to the 16th grid from the file's own beats."""
    import mido
    mf = mido.MidiFile(str(path))
    tpb = mf.ticks_per_beat
    lines = []
    for track in mf.tracks:
        tick = 0
        onsets: dict[int, int] = {}
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0 and msg.channel != 9:
                onsets[tick] = max(onsets.get(tick, 0), msg.note)
        if len(onsets) < 3:
            continue
        ticks = sorted(onsets)
        notes = []
        for a, b in zip(ticks, ticks[1:] + [ticks[-1] + tpb]):
            notes.append((onsets[a], max(1, round((b - a) * 4 / tpb))))
        lines.append(notes)
    return lines


def learn_files(paths: Iterable[str | os.PathLike]) -> StyleMemory:
    """A style profile from MIDI files and directories of them (recursively)."""
    mem = StyleMemory()
    files: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise ValueError(f"{p} does not exist")
        if p.is_dir():
            files += sorted(q for q in p.rglob("*") if q.suffix.lower() in (".mid", ".midi"))
        else:
            files.append(p)
    if not files:
        raise ValueError("no MIDI files found")
    for f in files:
        try:
            for line in melody_of_midi(f):
                mem.learn_notes(line)
        except Exception as e:  # one bad file must not stop the rest
            import logging
            logging.getLogger(__name__).warning("skipped %s: %s", f, e)
    if not mem.n_symbols:
        raise ValueError(f"learned nothing from {len(files)} file(s): no melodic line of 3 notes or more "
                         "outside the drum channel")
    return mem


def interval_rhythm_histograms(lines: Iterable[Sequence[tuple[int, int]]]) -> tuple[np.ndarray, np.ndarray]:
    """Normalised histograms of intervals (-12..12) and durations (1..16) of melodic lines."""
    iv = np.zeros(25)
    du = np.zeros(16)
    for line in lines:
        for (a, _), (b, d) in zip(line, line[1:]):
            iv[max(-12, min(12, b - a)) + 12] += 1
        for _, d in line:
            du[max(1, min(16, d)) - 1] += 1
    return iv / max(1, iv.sum()), du / max(1, du.sum())


def style_distance(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """L1 distance between interval histograms plus L1 between rhythm histograms."""
    return float(np.abs(a[0] - b[0]).sum() + np.abs(a[1] - b[1]).sum())
