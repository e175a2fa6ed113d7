"""Evaluation of a trained accompanist: the figures of the model card.

- teacher-forced next-step loss/accuracy per head through onnxruntime (fp32 and int8 files);
- the per-step cost of the whole plan step (ModelGenerator.plan: network + chord planner +
  voicing search) on one thread;
- the harmony tables of liveai.evaluation (issue 13): every metric for the model, the rules
  accompanist, a tonic drone and block triads of the true chord (the ceiling), over the annotated
  evaluation tunes played as melody only and with left-hand block chords, and over held-out
  chorales with Bach's own parts as a further column. The model and the rules accompanist run
  through the real `liveai demo --fast` CLI, exactly as `python -m liveai.evaluation` runs them.

Nothing here tunes the decoding: the first model's decoding was tuned to one number
(note-in-chord) and learned to double the melody; decoding is judged on all the metrics together.
voice_leading lives in liveai.evaluation.fourpart (pure, no training extra).
"""
from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from liveai.neural import runtime as rt
from liveai.evaluation import GridNote
from liveai.evaluation.fourpart import USUAL_RANGES, voice_leading  # noqa: F401  (used by the card)
from liveai.generators.base import PlayerNote

# usual ranges of the parts in four-part writing (out-of-range counted against these)
GENERATORS = ("model", "rules")
QUICK_TUNES = ("pop-g", "waltz-am")


def player_notes(piece, row: int = 0, velocity: int = 80) -> list[PlayerNote]:
    r, o = piece.roll[row], piece.onset[row]
    notes, T = [], len(r)
    k = 0
    while k < T:
        if r[k] > 0 and (o[k] or k == 0 or r[k - 1] != r[k]):
            e = k + 1
            while e < T and r[e] == r[k] and not o[e]:
                e += 1
            notes.append(PlayerNote(int(r[k]), velocity, k, e))
            k = e
        else:
            k += 1
    return notes


def true_chords(piece) -> list[frozenset]:
    return [frozenset(int(p) % 12 for p in piece.roll[:, k] if p > 0) for k in range(piece.roll.shape[1])]


def grid_notes_of_piece(piece) -> list[GridNote]:
    out = []
    for row, v in ((1, "alto"), (2, "tenor"), (3, "bass")):
        out += [GridNote(n.pitch, 80, n.start_step, n.end_step, v) for n in player_notes(piece, row)]
    return out


def teacher_forced_onnx(path, seqs) -> dict:
    """Per-head next-step loss and accuracy, running the ONNX file step by step."""
    m = rt.AccompanistModel(path, warmup=5)
    nll = np.zeros(4)
    hit = np.zeros(4)
    cnt = np.zeros(4)
    for s in seqs:
        st = m.initial_state()
        x = s.x.astype(np.float32)
        for k in range(x.shape[0]):
            lg, st = m.step(x[k], st)
            for h in range(4):
                y = int(s.y[h, k])
                if y < 0:
                    continue
                z = lg[h].astype(np.float64)
                z -= z.max()
                nll[h] += -(z[y] - np.log(np.exp(z).sum()))
                hit[h] += int(np.argmax(z) == y)
                cnt[h] += 1
    out = {name: {"loss": round(nll[h] / cnt[h], 4), "acc": round(hit[h] / cnt[h], 4), "steps": int(cnt[h])}
           for h, name in enumerate(rt.HEADS) if cnt[h]}
    out["accompaniment"] = {"loss": round(nll[:3].sum() / max(cnt[:3].sum(), 1), 4),
                            "acc": round(hit[:3].sum() / max(cnt[:3].sum(), 1), 4)}
    return out


def model_generator_spec(int8_path: str | Path) -> str:
    """The demo generator argument that plays this model file: the default model needs no flag."""
    p = Path(int8_path).resolve()
    if p == Path(rt.DEFAULT_MODEL_PATH).resolve():
        return "model"
    return "model --model " + shlex.quote(str(p))


def held_out_chorales(test_pieces: Sequence[Any], n: int) -> list[Any]:
    """The first n test pieces by name in 4/4 or 3/4 (as liveai.evaluation.chorales picks them)."""
    return sorted((p for p in test_pieces if p.steps_per_bar in (12, 16)), key=lambda p: p.name)[:n]


def harmony_tables(int8_path: str | Path, chorale_pieces: Sequence[Any] = (), tunes: Sequence[str] | None = None,
                   generators: Sequence[str] = GENERATORS, seed: int = 1, jobs: int = 1,
                   log: Callable[[str], None] | None = print, songs: bool = False) -> dict:
    """Every metric of liveai.evaluation.harmony, means per accompanist: `melody` and `chords`
    (the evaluation tunes melody only / with left-hand block chords), `chorales` (held-out
    chorales, the implied chord against Bach's harmony, plus parallels and crossings) and `songs`
    (music21's chord-annotated songs, which no setting was chosen on), with the issue 13 targets
    each group is checked against and the per-case figures."""
    from liveai.evaluation.chorales import chorale_case
    from liveai.evaluation.runner import all_tune_cases, evaluate_cases, means
    from liveai.evaluation.targets import check
    from liveai.evaluation.annotated import TUNES, VARIANTS
    keys = list(tunes) if tunes is not None else list(TUNES)
    spec = model_generator_spec(int8_path)
    gens = [spec if g == "model" else g for g in generators]
    rename = {spec: "model"}
    t0 = time.time()

    def run(cases):
        res = evaluate_cases(cases, gens, seed, None, jobs)
        return {k: {rename.get(g, g): s for g, s in by.items()} for k, by in res.items()}

    out: dict = {"seed": seed, "tunes": keys, "generators": list(generators),
                 "model_generator": spec, "targets": {}, "per_case": {}}
    res = run(all_tune_cases([TUNES[k] for k in keys], VARIANTS)) if keys else {}
    for v in VARIANTS if keys else ():
        ks = [k for k in res if k.endswith("+chords") == (v == "chords")]
        out[v] = means(res, ks)
        out["targets"][v] = [list(r) for r in check(v, out[v])]
    out["per_case"].update({k: {g: s.scores for g, s in by.items()} for k, by in res.items()})
    if log and keys:
        log(f"  harmony, {len(keys)} tunes: model F1 {out['melody']['model']['f1']:.2f} melody only, "
            f"{out['chords']['model']['f1']:.2f} with chords ({time.time() - t0:.0f}s)")
    if chorale_pieces:
        ccases = [chorale_case(p) for p in chorale_pieces]
        cres = run(ccases)
        out["chorales"] = {"names": [c.title for c in ccases], "means": means(cres)}
        out["targets"]["chorales"] = [list(r) for r in check("chorales", out["chorales"]["means"])]
        out["per_case"].update({k: {g: s.scores for g, s in by.items()} for k, by in cres.items()})
        if log:
            log(f"  harmony, {len(ccases)} chorales: model F1 {out['chorales']['means']['model']['f1']:.2f} "
                f"({time.time() - t0:.0f}s)")
    if songs:
        from liveai.evaluation.leadsheets import leadsheet_cases
        scases = leadsheet_cases()
        sres = run(scases)
        out["songs"] = {"names": [c.title for c in scases], "means": means(sres)}
        out["per_case"].update({k: {g: s.scores for g, s in by.items()} for k, by in sres.items()})
        if log:
            log(f"  harmony, {len(scases)} songs of music21: model implied chord "
                f"{out['songs']['means']['model']['implied_ensemble']:.2f} ({time.time() - t0:.0f}s)")
    return out


def evaluate_all(fp32_path, int8_path, val_seqs, test_seqs, chorale_pieces, *, tunes: Sequence[str] | None = None,
                 generators: Sequence[str] = GENERATORS, seed: int = 1, cost_steps: int = 4000, jobs: int = 1,
                 log=print) -> dict:
    """Every figure of the model card (see the module docstring). chorale_pieces: held-out
    chorales (liveai.corpus.pieces.Piece); tunes: keys of liveai.evaluation.annotated.TUNES (None: all)."""
    res: dict = {}
    t0 = time.time()
    for tag, path in (("fp32", fp32_path), ("int8", int8_path)):
        res[f"teacher_forced_{tag}"] = {"val": teacher_forced_onnx(path, val_seqs),
                                        "test": teacher_forced_onnx(path, test_seqs)}
        res[f"latency_{tag}"] = {k: (round(v, 4) if isinstance(v, float) else v)
                                 for k, v in rt.benchmark_step(path, 2000).items() if k != "path"}
        log(f"  {tag}: teacher-forced + network latency done ({time.time() - t0:.0f}s)")
    res["decoding_step_cost"] = decoding_step_cost(cost_steps, int8_path)
    log(f"  plan step cost: {res['decoding_step_cost']}")
    # the songs come with the full card (all tunes), not with a quick run on a few tunes
    res["harmony"] = harmony_tables(int8_path, chorale_pieces, tunes, generators, seed, jobs, log,
                                    songs=tunes is None)
    return res


def decoding_step_cost(n_steps: int = 4000, path: str | Path | None = None) -> dict:
    """Per-step wall time of a plan step on the plain tunes of liveai.music.tunes played as the demo
    plays them, in ms (p50/p99), one thread, measured two ways:
    - plan_*: ModelGenerator.plan with no chord in the context, so it plans its chords itself
      (network + chord planner + voicing search in one call, as an offline caller runs it);
    - as the engine splits it: the chord planner on the engine's thread (chord_plan_*), then
      ModelGenerator.plan with that chord in the context on the model's worker, i.e. the network
      and the decoding (step_*); decode_*: the voicing search alone (last_decode_s)."""
    from liveai.music import tunes as TU
    from liveai.evaluation import visible_player
    from liveai.generators.base import StepContext, play
    from liveai.generators.neural import ModelGenerator
    from liveai.harmony.planner import HarmonyPlanner

    def run(engine_split: bool) -> tuple[list[float], list[float], list[float]]:
        gen = ModelGenerator(path, seed=1, temperature=0.7, top_p=0.9)
        planner = HarmonyPlanner(listener=gen.listener_guess)
        total, dec, chord_t = [], [], []
        for t in list(TU.PLAIN_TUNES.values()) * 8:
            notes, spb = t.notes(), t.meter.steps_per_bar
            gen.reset()
            planner.reset()
            sounding = {v: None for v in gen.voices}
            for k in range(t.total_steps):
                player = visible_player(notes, k - 2)
                extra = {}
                if engine_split:
                    t0 = time.perf_counter()
                    cp = planner.plan(k, spb, k - 2, player)
                    chord_t.append(time.perf_counter() - t0)
                    extra = dict(chord=cp.chord, chord_new=cp.new, next_chord=cp.next_chord)
                ctx = StepContext(step=k, steps_per_bar=spb, known_until=k - 2, player=player,
                                  sounding=dict(sounding), **extra)
                t0 = time.perf_counter()
                plan = gen.plan(ctx)
                t1 = time.perf_counter()
                gen.observe(ctx, plan)
                play(sounding, plan)
                total.append(t1 - t0)
                dec.append(getattr(gen, "last_decode_s", 0.0))
                if len(total) >= n_steps:
                    return total, dec, chord_t
        return total, dec, chord_t

    def pct(x: list[float], q: float) -> float:
        return round(float(np.percentile(np.array(x) * 1e3, q)), 4)

    tot, de, _ = run(False)
    step, de2, chord_t = run(True)
    both = [a + b for a, b in zip(step, chord_t)]
    return {"n": len(tot), "plan_p50_ms": pct(tot, 50), "plan_p99_ms": pct(tot, 99),
            "decode_p50_ms": pct(de2, 50), "decode_p99_ms": pct(de2, 99),
            "step_p50_ms": pct(step, 50), "step_p99_ms": pct(step, 99),
            "chord_plan_p50_ms": pct(chord_t, 50), "chord_plan_p99_ms": pct(chord_t, 99),
            "engine_total_p50_ms": pct(both, 50), "engine_total_p99_ms": pct(both, 99)}
