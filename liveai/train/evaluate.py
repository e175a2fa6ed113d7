"""Evaluation of a trained accompanist on held-out chorales (figures for the model card).

- teacher-forced next-step loss/accuracy per head through onnxruntime (fp32 and int8 files);
- online accompaniment of held-out soprano lines with liveai.evaluation.run_online, scored by
  note_in_chord against Bach's true harmony (pitch classes of all four voices at that step), for
  the model, the rules accompanist, a Markov baseline and a tonic drone;
- voice-leading sanity: parallel fifths/octaves and notes out of each part's usual range.
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from liveai.neural import runtime as rt
from liveai.evaluation import GridNote, note_in_chord, run_online
from liveai.generators.base import PlayerNote

# usual ranges of the parts in four-part writing (out-of-range counted against these)
USUAL_RANGES = {"soprano": (60, 81), "alto": (55, 74), "tenor": (48, 69), "bass": (40, 62)}


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


def voice_leading(notes: Sequence[GridNote], soprano: Sequence[PlayerNote], T: int) -> dict:
    """Parallel fifths/octaves between any two of the four parts (on steps where both move), and
    notes outside the usual ranges per part."""
    parts = {"soprano": np.zeros(T, int), "alto": np.zeros(T, int), "tenor": np.zeros(T, int),
             "bass": np.zeros(T, int)}
    for n in soprano:
        parts["soprano"][n.start_step:min(n.end_step or T, T)] = n.pitch
    for n in notes:
        parts[n.voice][n.start:min(n.end, T)] = n.pitch
    names = list(parts)
    par5 = par8 = 0
    for a in range(4):
        for b in range(a + 1, 4):
            x, y = parts[names[a]], parts[names[b]]
            for k in range(1, T):
                if not (x[k] and y[k] and x[k - 1] and y[k - 1]):
                    continue
                if x[k] == x[k - 1] or y[k] == y[k - 1]:
                    continue
                i0, i1 = (x[k - 1] - y[k - 1]) % 12, (x[k] - y[k]) % 12
                if i0 == i1 == 7:
                    par5 += 1
                elif i0 == i1 == 0:
                    par8 += 1
    oor = {}
    for v in ("alto", "tenor", "bass"):
        vs = [n for n in notes if n.voice == v]
        lo, hi = USUAL_RANGES[v]
        oor[v] = sum(not (lo <= n.pitch <= hi) for n in vs)
    return {"parallel_fifths": par5, "parallel_octaves": par8, "out_of_range": oor,
            "notes": len(notes)}


def texture(notes: Sequence[GridNote], T: int) -> tuple[int, int]:
    """(steps where the accompaniment sounds two or more distinct pitch classes, steps where it sounds)."""
    pcs: dict[int, set] = {}
    for n in notes:
        for s in range(n.start, min(n.end, T)):
            pcs.setdefault(s, set()).add(n.pitch % 12)
    return sum(len(x) >= 2 for x in pcs.values()), len(pcs)


def online_scores(make_gen, pieces, log=None) -> dict:
    """Mean note-in-chord (duration-weighted over all pieces) and voice-leading totals."""
    hit_w = tot_w = 0.0
    per_piece = {}
    vl = {"parallel_fifths": 0, "parallel_octaves": 0, "out_of_range": {"alto": 0, "tenor": 0, "bass": 0},
          "notes": 0}
    steps = 0
    bars_played = bars_total = 0
    tex_multi = tex_total = 0
    for p in pieces:
        sop = player_notes(p)
        T = p.length
        gen = make_gen(p)
        notes = run_online(gen, sop, p.steps_per_bar, T)
        tm, tt = texture(notes, T)
        tex_multi += tm
        tex_total += tt
        chords = true_chords(p)
        nic = note_in_chord(notes, chords)
        w = sum(1 for n in notes for s in range(n.start, n.end) if s < T and chords[s])
        hit_w += nic * w
        tot_w += w
        per_piece[p.name] = round(nic, 4)
        v = voice_leading(notes, sop, T)
        vl["parallel_fifths"] += v["parallel_fifths"]
        vl["parallel_octaves"] += v["parallel_octaves"]
        vl["notes"] += v["notes"]
        for k in vl["out_of_range"]:
            vl["out_of_range"][k] += v["out_of_range"][k]
        steps += T
        nb = T // p.steps_per_bar
        played = {b for n in notes for b in range(n.start // p.steps_per_bar, (n.end - 1) // p.steps_per_bar + 1)}
        bars_played += sum(b in played for b in range(1, nb))
        bars_total += max(0, nb - 1)
    vl["parallels_per_1000_steps"] = round(1000 * (vl["parallel_fifths"] + vl["parallel_octaves"]) / max(steps, 1), 2)
    vl["out_of_range_share"] = round(sum(vl["out_of_range"].values()) / max(vl["notes"], 1), 4)
    return {"note_in_chord": round(hit_w / tot_w, 4) if tot_w else 0.0,
            "note_in_chord_mean_per_piece": round(float(np.mean(list(per_piece.values()))), 4),
            "bars_with_notes": round(bars_played / max(bars_total, 1), 4),
            "two_or_more_pitch_classes": round(tex_multi / max(tex_total, 1), 4),
            "voice_leading": vl, "per_piece": per_piece}


def bach_reference(pieces) -> dict:
    vl = {"parallel_fifths": 0, "parallel_octaves": 0, "notes": 0}
    steps = 0
    for p in pieces:
        v = voice_leading(grid_notes_of_piece(p), player_notes(p), p.length)
        for k in vl:
            vl[k] += v[k]
        steps += p.length
    vl["parallels_per_1000_steps"] = round(1000 * (vl["parallel_fifths"] + vl["parallel_octaves"]) / max(steps, 1), 2)
    return vl


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


def rules_factory():
    """The rules accompanist of liveai.generators.rules, or None if it is not there."""
    try:
        from liveai.generators.rules import RulesAccompanist
    except Exception:
        return None
    return lambda p: RulesAccompanist(seed=0)


def evaluate_all(fp32_path, int8_path, val_seqs, test_seqs, test_pieces, markov, *, temperature=0.0,
                 top_p=1.0, seed=0, log=print) -> dict:
    from liveai.generators.neural import ModelGenerator
    from liveai.train.baselines import TonicDrone
    res: dict = {}
    t0 = time.time()
    for tag, path in (("fp32", fp32_path), ("int8", int8_path)):
        res[f"teacher_forced_{tag}"] = {"val": teacher_forced_onnx(path, val_seqs),
                                        "test": teacher_forced_onnx(path, test_seqs)}
        res[f"latency_{tag}"] = {k: (round(v, 4) if isinstance(v, float) else v)
                                 for k, v in rt.benchmark_step(path, 2000).items() if k != "path"}
        log(f"  {tag}: teacher-forced + latency done ({time.time() - t0:.0f}s)")
    online = {}
    for tag, path in (("model_int8", int8_path), ("model_fp32", fp32_path)):
        m = rt.AccompanistModel(path)
        online[tag] = online_scores(lambda p: ModelGenerator(model=m, seed=seed, temperature=temperature,
                                                             top_p=top_p), test_pieces)
        log(f"  online {tag}: note-in-chord {online[tag]['note_in_chord']} ({time.time() - t0:.0f}s)")
    m8 = rt.AccompanistModel(int8_path)
    online["model_int8_t0.7"] = online_scores(
        lambda p: ModelGenerator(model=m8, seed=seed + 1, temperature=0.7, top_p=0.9), test_pieces)
    log(f"  online model_int8 at temperature 0.7, top-p 0.9: {online['model_int8_t0.7']['note_in_chord']}")
    rf = rules_factory()
    if rf is not None:
        try:
            online["rules"] = online_scores(rf, test_pieces)
            log(f"  online rules: note-in-chord {online['rules']['note_in_chord']}")
        except Exception as e:  # the rules accompanist is developed in parallel
            online["rules"] = {"error": f"{type(e).__name__}: {e}"}
            log(f"  online rules failed: {e}")
    else:
        online["rules"] = {"error": "liveai.generators.rules.RulesAccompanist not importable"}
    online["markov"] = online_scores(lambda p: markov, test_pieces)
    log(f"  online markov: note-in-chord {online['markov']['note_in_chord']}")
    online["tonic_drone"] = online_scores(lambda p: TonicDrone(_tonic_of(p)), test_pieces)
    res["online"] = online
    syn = {"model_int8": synthetic_scores(lambda: ModelGenerator(model=m8, seed=seed, temperature=temperature,
                                                                  top_p=top_p)),
           "model_int8_t0.7": synthetic_scores(lambda: ModelGenerator(model=m8, seed=seed + 1, temperature=0.7,
                                                                      top_p=0.9)),
           "markov": synthetic_scores(lambda: markov)}
    if rf is not None:
        try:
            syn["rules"] = synthetic_scores(lambda: rf(None))
        except Exception as e:
            syn["rules"] = {"error": f"{type(e).__name__}: {e}"}
    res["synthetic_tunes"] = syn
    log(f"  synthetic tunes: " + ", ".join(
        f"{k} {np.mean([v['note_in_chord'] for v in d.values()]):.3f}" for k, d in syn.items() if "error" not in d))
    plain = {"model_int8_demo": tune_scores(lambda t: ModelGenerator(model=m8, seed=1, temperature=0.7, top_p=0.9)),
             "model_int8": tune_scores(lambda t: ModelGenerator(model=m8, seed=seed, temperature=temperature,
                                                                top_p=top_p))}
    if rf is not None:
        try:
            plain["rules"] = tune_scores(lambda t: rf(None))
        except Exception as e:
            plain["rules"] = {"error": f"{type(e).__name__}: {e}"}
    plain["tonic_drone"] = tune_scores(lambda t: TonicDrone(t.tonic))
    res["plain_tunes"] = plain
    log("  plain tunes (demo settings): " + ", ".join(
        f"{k} {v['note_in_chord']:.3f}" for k, v in plain["model_int8_demo"].items()))
    from liveai.generators.neural import DECODING
    res["decoding"] = dict(DECODING)
    res["decoding_step_cost"] = decoding_step_cost()
    log(f"  decoding step cost: {res['decoding_step_cost']}")
    res["bach_voice_leading"] = bach_reference(test_pieces)
    res["sampling"] = {"temperature": temperature, "top_p": top_p, "seed": seed}
    return res


def _tonic_of(piece) -> int:
    """Tonic guess for the drone: pitch class of the last bass note (chorales end on the tonic)."""
    b = piece.roll[3][piece.roll[3] > 0]
    return int(b[-1]) % 12 if b.size else 0


# --------------------------------------------------------------------------- synthetic tunes probe

_MAJ = (0, 2, 4, 5, 7, 9, 11)
_MIN = (0, 2, 3, 5, 7, 8, 10)


def _triad(tonic: int, degree: int, minor: bool, seventh: bool = False) -> tuple[int, ...]:
    sc = _MIN if minor else _MAJ
    pcs = [(tonic + sc[(degree + 2 * i) % 7]) % 12 for i in range(4 if seventh else 3)]
    if minor and degree == 4:  # V in minor: raised leading tone
        pcs[1] = (pcs[1] + 1) % 12
    return tuple(pcs)


def synthetic_tunes(seed: int = 0):
    """Plain tunes with known chords: diatonic in several keys, 4/4 and 3/4, major and minor, and
    a 12-bar blues. Melody: chord tones on beats, scale steps between. Returns a list of
    (name, player notes, chord pitch classes per step, steps_per_bar, total steps)."""
    rng = np.random.default_rng(seed)
    tunes = []
    progs = {"I-IV-V-I": [0, 3, 4, 0, 0, 5, 3, 4, 0, 3, 0, 4, 5, 3, 4, 0],
             "I-vi-ii-V": [0, 5, 1, 4, 0, 5, 1, 4, 0, 3, 4, 0]}
    specs = [("G major 4/4", 7, False, 16, "I-IV-V-I"), ("F major 3/4", 5, False, 12, "I-IV-V-I"),
             ("D minor 4/4", 2, True, 16, "I-IV-V-I"), ("E minor 3/4", 4, True, 12, "I-IV-V-I"),
             ("Bb major 4/4", 10, False, 16, "I-vi-ii-V"), ("A major 3/4", 9, False, 12, "I-vi-ii-V")]
    for name, tonic, minor, spb, prog in specs:
        chords_deg = progs[prog]
        sc = _MIN if minor else _MAJ
        scale = sorted({60 + (tonic + d) % 12 + o for d in sc for o in (0, 12)})
        notes, chords = [], []
        prev = 60 + tonic + (12 if tonic < 5 else 0)
        for b, deg in enumerate(chords_deg):
            ch = _triad(tonic, deg, minor)
            chords += [frozenset(ch)] * spb
            for beat in range(spb // 4):
                s = b * spb + beat * 4
                if beat == 0 or rng.random() < 0.5:  # chord tone nearest the previous note
                    cands = [p for p in range(60, 82) if p % 12 in ch]
                else:
                    cands = [p for p in scale if abs(p - prev) <= 2 and p != prev] or [prev]
                p = min(cands, key=lambda c: (abs(c - prev), rng.random()))
                dur = 4 if rng.random() < 0.8 or beat == spb // 4 - 1 else 2
                notes.append(PlayerNote(int(p), 80, s, s + dur))
                if dur == 2:
                    q = [c for c in range(60, 82) if c % 12 in ch and c != p]
                    p2 = min(q, key=lambda c: abs(c - p))
                    notes.append(PlayerNote(int(p2), 80, s + 2, s + 4))
                    p = p2
                prev = p
        tunes.append((name, notes, chords, spb, len(chords)))
    # 12-bar blues in C (dominant sevenths), riff on chord tones
    bars = [0, 0, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7]
    notes, chords = [], []
    for b, root in enumerate(bars):
        ch = frozenset({root % 12, (root + 4) % 12, (root + 7) % 12, (root + 10) % 12})
        chords += [ch] * 16
        riff = [0, 4, 7, 4] if b % 2 == 0 else [7, 10, 7, 4]
        for i, iv in enumerate(riff):
            notes.append(PlayerNote(60 + (root + iv) % 12, 80, b * 16 + 4 * i, b * 16 + 4 * i + 4))
    tunes.append(("C 12-bar blues", notes, chords, 16, len(chords)))
    return tunes


def synthetic_scores(make_gen) -> dict:
    out = {}
    for name, notes, chords, spb, T in synthetic_tunes():
        got = run_online(make_gen(), notes, spb, T)
        played = {b for n in got for b in range(n.start // spb, (n.end - 1) // spb + 1)}
        out[name] = {"note_in_chord": round(note_in_chord(got, chords), 4),
                     "bars_with_notes": round(sum(b in played for b in range(1, T // spb)) / max(1, T // spb - 1), 4)}
    return out


# --------------------------------------------------------------------------- plain tunes (liveai.music.tunes)

def tune_scores(make_gen, tunes=None) -> dict:
    """note-in-chord against each tune's chords and the share of bars after the first with notes,
    driving the generator with run_online exactly as the demo's engine would. tunes: name -> Tune
    (default: liveai.music.tunes.PLAIN_TUNES and the built-in demo tunes)."""
    from liveai.evaluation import bars_with_notes
    from liveai.music import tunes as TU
    tunes = tunes if tunes is not None else {**TU.PLAIN_TUNES, **TU.TUNES}
    out = {}
    for name, t in tunes.items():
        spb, T = t.meter.steps_per_bar, t.total_steps
        got = run_online(make_gen(t), t.notes(), spb, T)
        tm, tt = texture(got, T)
        out[name] = {"note_in_chord": round(note_in_chord(got, t.chord_steps()), 4),
                     "bars_with_notes": round(bars_with_notes(got, spb, T // spb), 4),
                     "two_or_more_pitch_classes": round(tm / max(tt, 1), 4)}
    return out


def decoding_step_cost(n_steps: int = 4000) -> dict:
    """Per-step wall time of ModelGenerator.plan (network + decoding) and of the decoding alone,
    on plain tunes and a chorale-like line, in ms (p50/p99)."""
    from liveai.music import tunes as TU
    from liveai.evaluation import visible_player
    from liveai.generators.base import HOLD, StepContext
    from liveai.generators.neural import ModelGenerator
    gen = ModelGenerator(seed=1, temperature=0.7, top_p=0.9)
    total, dec = [], []
    for t in list(TU.PLAIN_TUNES.values()) * 8:
        notes, spb = t.notes(), t.meter.steps_per_bar
        gen.reset()
        sounding = {v: None for v in gen.voices}
        for k in range(t.total_steps):
            ctx = StepContext(step=k, steps_per_bar=spb, known_until=k - 2, player=visible_player(notes, k - 2),
                              sounding=dict(sounding))
            t0 = time.perf_counter()
            plan = gen.plan(ctx)
            t1 = time.perf_counter()
            gen.observe(ctx, plan)
            for v, a in plan.items():
                if a.kind == "note":
                    sounding[v] = a.pitch
                elif a.kind == "rest":
                    sounding[v] = None
            total.append(t1 - t0)
            dec.append(getattr(gen, "last_decode_s", 0.0))
            if len(total) >= n_steps:
                break
        if len(total) >= n_steps:
            break
    tot, de = np.array(total) * 1e3, np.array(dec) * 1e3
    return {"n": len(tot), "plan_p50_ms": round(float(np.percentile(tot, 50)), 4),
            "plan_p99_ms": round(float(np.percentile(tot, 99)), 4),
            "decode_p50_ms": round(float(np.percentile(de, 50)), 4),
            "decode_p99_ms": round(float(np.percentile(de, 99)), 4)}
