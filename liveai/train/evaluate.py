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

from liveai import model as rt
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


def online_scores(make_gen, pieces, log=None) -> dict:
    """Mean note-in-chord (duration-weighted over all pieces) and voice-leading totals."""
    hit_w = tot_w = 0.0
    per_piece = {}
    vl = {"parallel_fifths": 0, "parallel_octaves": 0, "out_of_range": {"alto": 0, "tenor": 0, "bass": 0},
          "notes": 0}
    steps = 0
    bars_played = bars_total = 0
    for p in pieces:
        sop = player_notes(p)
        T = p.length
        gen = make_gen(p)
        notes = run_online(gen, sop, p.steps_per_bar, T)
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
    from liveai.generators.model import ModelGenerator
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
    res["bach_voice_leading"] = bach_reference(test_pieces)
    res["sampling"] = {"temperature": temperature, "top_p": top_p, "seed": seed}
    return res


def _tonic_of(piece) -> int:
    """Tonic guess for the drone: pitch class of the last bass note (chorales end on the tonic)."""
    b = piece.roll[3][piece.roll[3] > 0]
    return int(b[-1]) % 12 if b.size else 0
