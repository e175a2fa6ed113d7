"""Tunes through the real demo CLI, read back and scored; tables and a text piano roll.

The real accompanists (the default model, the rules generator) are run exactly as a user would:
`python -m liveai demo --fast --input X.mid --seed 1 --out OUT.mid [--generator rules]`. OUT.mid's
`player` track is the player, every other pitched track the accompaniment; notes are put on the
16th grid from the file's tempo with step 0 at the player's first note (where the demo starts its
grid). The reference accompanists (ceiling, drone, Bach) are scored from their notes directly.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import mido

from liveai.evaluation import references
from liveai.evaluation.harmony import METRICS, FOUR_PART_METRICS, Note, mean_scores, score
from liveai.evaluation.annotated import TUNES, VARIANTS, AnnotatedTune, write_midi

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATORS = ("model", "rules")
DRUM_CHANNEL = 9

LABELS = {
    "precision": "precision (note-in-chord)",
    "recall": "recall (triad completeness)",
    "f1": "F1 (of the mean precision and recall)",
    "implied_ensemble": "implied chord, ensemble",
    "implied_alone": "implied chord, accompaniment alone",
    "distinct": "distinct pitch classes among sounding voices",
    "echo": "echo",
    "bass_root": "bass on the root at chord changes",
    "parallels": "parallel fifths and octaves per 1000 steps",
    "crossings": "voice crossings per 1000 steps",
    "note_in_chord": "note-in-chord (melody on a tone of the band's chord)",
}


@dataclass
class Case:
    """One thing to accompany: what the player plays, the true chord of every step, the meter and
    tempo to write it with, the key (for the drone) and any extra reference parts (Bach's)."""

    key: str
    title: str
    beats: int
    tempo: float
    tonic: int
    minor: bool
    player: list[Note]
    chords: list[Any]
    markers: list[tuple[int, Any]]
    four_part: bool = False
    extra_refs: dict[str, list[Note]] = field(default_factory=dict)

    @property
    def steps_per_bar(self) -> int:
        return self.beats * 4

    @property
    def total(self) -> int:
        return len(self.chords)

    def write_input(self, path: str | Path) -> Path:
        hands: dict[str, list[Note]] = {}
        for n in self.player:
            hands.setdefault(n.part or "player", []).append(n)
        return write_midi(path, self.title, self.beats, self.tempo, list(hands.items()), self.markers, self.total)


def tune_case(tune: AnnotatedTune, variant: str = "melody") -> Case:
    return Case(f"{tune.key}" if variant == "melody" else f"{tune.key}+chords", tune.title, tune.beats, tune.tempo,
                tune.tonic, tune.minor, tune.player(variant), tune.chord_steps(), tune.markers())


# --------------------------------------------------------------------------- the demo CLI

def demo_command(inp: str | Path, out: str | Path, generator: str = "model", seed: int = 1) -> list[str]:
    """generator: a generator name, optionally followed by more demo flags ("model --model X.onnx
    --harmonic-rhythm beat"), so candidates can be compared side by side."""
    import shlex
    name, *extra = shlex.split(generator)
    cmd = [sys.executable, "-m", "liveai", "demo", "--fast", "--input", str(inp), "--seed", str(seed), "--out", str(out)]
    if name != "model":
        cmd += ["--generator", name]
    cmd += extra
    return cmd


def run_demo(inp: str | Path, out: str | Path, generator: str = "model", seed: int = 1, timeout: float = 300) -> Path:
    """Run the real demo CLI on one input file (this checkout's liveai first on the path)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    r = subprocess.run(demo_command(inp, out, generator, seed), env=env, capture_output=True, text=True,
                       timeout=timeout, cwd=str(REPO_ROOT))
    if r.returncode != 0 or not Path(out).exists():
        raise RuntimeError(f"liveai demo failed on {inp} ({generator}): rc {r.returncode}\n{r.stderr[-2000:]}")
    return Path(out)


def read_output(path: str | Path) -> tuple[list[Note], list[Note], int]:
    """(player notes, accompaniment notes, steps per bar) of a session file the demo wrote. Notes
    are rounded to the nearest 16th; drums (channel 10) are not accompaniment harmony."""
    mf = mido.MidiFile(str(path))
    q = mf.ticks_per_beat / 4
    beats, unit = 4, 4
    raw: dict[str, list[tuple[int, int, int]]] = {}
    first_on = None
    for i, tr in enumerate(mf.tracks):
        name = tr.name or f"track{i}"
        t = 0
        open_: dict[tuple[int, int], list[int]] = {}
        for msg in tr:
            t += msg.time
            if msg.type == "time_signature":
                beats, unit = msg.numerator, msg.denominator
            if msg.type not in ("note_on", "note_off") or msg.channel == DRUM_CHANNEL:
                continue
            k = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                open_.setdefault(k, []).append(t)
                if name == "player":
                    first_on = t if first_on is None else min(first_on, t)
            elif open_.get(k):
                raw.setdefault(name, []).append((msg.note, open_[k].pop(0), t))
        for (ch, p), starts in open_.items():
            raw.setdefault(name, []).extend((p, s, t) for s in starts)
    t0 = first_on or 0
    player, accomp = [], []
    for name, ns in raw.items():
        for p, s, e in ns:
            a, b = int(round((s - t0) / q)), int(round((e - t0) / q))
            note = Note(p, a, max(b, a + 1), name)
            (player if name == "player" else accomp).append(note)
    player.sort(key=lambda n: (n.start, n.pitch))
    accomp.sort(key=lambda n: (n.start, n.part, n.pitch))
    return player, accomp, beats * 16 // unit


def score_output(out_mid: str | Path, chords: Sequence[Any], beat_steps: int = 4, four_part: bool = False,
                 start: int | None = None) -> dict[str, float]:
    """Every metric of one demo session file against the true chord of every step (the API the
    tests and the planner's author call: no subprocess, no tune table needed)."""
    player, accomp, spb = read_output(out_mid)
    return score(player, accomp, chords, spb, beat_steps, start, four_part)


def score_tune_output(tune: AnnotatedTune, out_mid: str | Path) -> dict[str, float]:
    """score_output against an annotated tune's chords."""
    return score_output(out_mid, tune.chord_steps(), tune.beat_steps)


# --------------------------------------------------------------------------- evaluation of a set

@dataclass
class Session:
    """Notes of one accompanist on one case (for the roll) and its scores."""

    player: list[Note]
    accomp: list[Note]
    scores: dict[str, float]


def reference_sessions(case: Case) -> dict[str, Session]:
    refs = {"drone": references.drone(case.tonic, case.minor, case.total),
            "ceiling": references.ceiling(case.chords), **case.extra_refs}
    return {name: Session(case.player, notes, score(case.player, notes, case.chords, case.steps_per_bar, 4,
                                                    None, case.four_part))
            for name, notes in refs.items()}


def evaluate_cases(cases: Sequence[Case], generators: Sequence[str] = GENERATORS, seed: int = 1,
                   workdir: str | Path | None = None, jobs: int = 1,
                   log: Callable[[str], None] | None = None) -> dict[str, dict[str, Session]]:
    """case key -> accompanist -> Session, for the generators (through the demo CLI) and the
    reference accompanists."""
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="liveai-eval-")
        workdir = tmp.name
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    jobs_list = []
    for c in cases:
        inp = c.write_input(wd / f"{c.key}.mid")
        for g in generators:
            tag = "".join(ch if ch.isalnum() else "_" for ch in g)[:60]
            jobs_list.append((c, g, inp, wd / f"{c.key}.{tag}.out.mid"))

    def one(job):
        c, g, inp, out = job
        run_demo(inp, out, g, seed)
        player, accomp, _ = read_output(out)
        s = Session(player, accomp, score(player, accomp, c.chords, c.steps_per_bar, 4, None, c.four_part))
        if log:
            log(f"  {c.key} {g}: F1 {s.scores['f1']:.2f}, implied alone {s.scores['implied_alone']:.2f}")
        return c.key, g, s

    res: dict[str, dict[str, Session]] = {c.key: {} for c in cases}
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
            for key, g, s in ex.map(one, jobs_list):
                res[key][g] = s
    finally:
        if tmp is not None:
            tmp.cleanup()
    for c in cases:
        res[c.key].update(reference_sessions(c))
    return res


def means(results: dict[str, dict[str, Session]], keys: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """accompanist -> metric -> mean over the cases (F1 from the mean precision and recall)."""
    keys = list(results) if keys is None else keys
    names: list[str] = []
    for k in keys:
        names += [n for n in results[k] if n not in names]
    return {n: mean_scores([results[k][n].scores for k in keys if n in results[k]]) for n in names}


ORDER = ("model", "rules", "drone", "ceiling", "bach")


def table(columns: dict[str, dict[str, float]], title: str = "") -> str:
    """Markdown table: one row per metric, one column per accompanist."""
    names = sorted(columns, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    metrics = [m for m in METRICS + FOUR_PART_METRICS if any(m in columns[n] for n in names)]
    lines = ([f"**{title}**", ""] if title else []) + [
        "| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for m in metrics:
        cells = []
        for n in names:
            v = columns[n].get(m)
            cells.append("" if v is None else (f"{v:.2f}" if m in ("distinct", "parallels", "crossings") else f"{v:.2f}"))
        lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_case_table(results: dict[str, dict[str, Session]], metric_keys: Sequence[str] = METRICS) -> str:
    """One row per (case, accompanist), one column per metric."""
    short = {"precision": "P", "recall": "R", "f1": "F1", "implied_ensemble": "impl ens", "implied_alone": "impl alone",
             "distinct": "distinct", "echo": "echo", "bass_root": "bass root", "parallels": "par/1000",
             "crossings": "cross/1000", "note_in_chord": "NiC"}
    lines = ["| case | accompanist | " + " | ".join(short[m] for m in metric_keys) + " |",
             "|---|---|" + "---|" * len(metric_keys)]
    for key, by in results.items():
        for n in sorted(by, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
            s = by[n].scores
            lines.append(f"| {key} | {n} | " + " | ".join(f"{s[m]:.2f}" if m in s else "" for m in metric_keys) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- text piano roll

NOTE = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def note_name(p: int) -> str:
    return f"{NOTE[p % 12]}{p // 12 - 1}"


def piano_roll(case: Case, sessions: dict[str, Session], bars: Sequence[int] = (1, 2, 3, 4)) -> str:
    """One line per 16th step: bar.beat.16th, the true chord (shown where it changes), the
    player's sounding notes and each accompanist's sounding notes ('*' marks an onset)."""
    spb = case.steps_per_bar
    names = sorted(sessions, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    width = 16

    def cell(notes: Sequence[Note], k: int) -> str:
        snd = sorted((n for n in notes if n.start <= k < n.end), key=lambda n: n.pitch)
        return " ".join(("*" if n.start == k else "") + note_name(n.pitch) for n in snd) or "."

    head = f"{'step':>4} {'pos':<7} {'chord':<7} {'player':<{width}}" + "".join(f" | {n:<{width}}" for n in names)
    lines = [f"{case.title} ({case.key}), bars {bars[0] + 1}-{bars[-1] + 1}", head, "-" * len(head)]
    player = next(iter(sessions.values())).player if sessions else case.player
    for b in bars:
        for k in range(b * spb, min((b + 1) * spb, case.total)):
            ch = case.chords[k]
            shown = ch.name if ch is not None and (k == 0 or case.chords[k - 1] != ch) else ""
            pos = f"{k // spb + 1}.{k % spb // 4 + 1}.{k % 4 + 1}"
            row = f"{k:>4} {pos:<7} {shown:<7} {cell(player, k):<{width}}"
            row += "".join(f" | {cell(sessions[n].accomp, k):<{width}}" for n in names)
            lines.append(row.rstrip())
    return "\n".join(lines)


def all_tune_cases(tunes: Sequence[AnnotatedTune] | None = None, variants: Sequence[str] = VARIANTS) -> list[Case]:
    tunes = list(TUNES.values()) if tunes is None else tunes
    return [tune_case(t, v) for v in variants for t in tunes]
