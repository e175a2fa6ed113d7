"""The model card: models/<name>.json (machine-readable) and models/<name>.md (for people)."""
from __future__ import annotations

import hashlib
import json
import platform
from datetime import datetime, timezone
from pathlib import Path

from liveai.neural import runtime as rt


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def write_card(out: Path, *, args, argv, results, weights, history, split, folk_split, n_train_seqs,
               train_time_s, fp32_path: Path, int8_path: Path) -> dict:
    import onnxruntime
    import torch
    tf32, tf8 = results["teacher_forced_fp32"], results["teacher_forced_int8"]
    a32, a8 = tf32["val"]["accompaniment"]["acc"], tf8["val"]["accompaniment"]["acc"]
    rel_loss = (a32 - a8) / a32 if a32 else 0.0
    cmd = "liveai train " + " ".join(argv) if argv else "liveai train"
    spec = rt.AccompanistModel(int8_path, warmup=0).spec.card
    card = {
        "name": out.name,
        "version": rt.MODEL_VERSION,
        "file": int8_path.name,
        "sha256": _sha(int8_path),
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "reproduce": {"command": cmd, "equivalent": "python -m liveai.train " + " ".join(argv),
                      "evaluate_only": f"python -m liveai.train evaluate --out {args.out}",
                      "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
                      "python": platform.python_version(), "train_time_s": train_time_s},
        "architecture": {
            "type": "2-layer GRU written as MatMul/Add/Sigmoid/Tanh (state in/out), linear heads; plus a 1-layer "
                    "GRU chord listener on the player only (its state is the last row of `state`) with a "
                    "12-way sigmoid chord head",
            "decoding": {**(results.get("decoding") or {"chord_weight": spec.get("chord_weight"),
                                                         "spread": spec.get("spread")}),
                         "file_suggests": {"chord_weight": spec.get("chord_weight"), "spread": spec.get("spread")},
                         "rule": "token score = log P_voice(token) + chord_weight * log(P_chord(pitch class) * "
                                 "spread^(times already taken by another voice this step)); P_chord = the "
                                 "listener's estimate * key_prior outside the detected key, blended geometrically "
                                 "with the rules accompanist's chord confidence (rules_blend) and with its own mean "
                                 "over the current bar / half bar (segment_memory); spread on steps 0, 1 of a beat "
                                 "is early_spread; greedy or sampled (liveai.neural.runtime.chord_aware_scores, "
                                 "liveai.generators.neural.ModelGenerator, DECODING). Tuned on the validation "
                                 "chorales and liveai.train.evaluate.synthetic_tunes(11), (12) only"},
            "hidden": args.hidden, "layers": args.layers, "feature_dim": rt.FEATURE_DIM,
            "heads": list(rt.HEADS), "vocab_per_head": rt.VOCAB,
            "quantization": ("onnxruntime quantize_dynamic, int8 weights (" +
                             ("per-channel" if args.per_channel else "per-tensor") + "), MatMul ops"),
        },
        "vocabulary": {"0": "rest", "1": "hold (the sounding note goes on)",
                       "2..": f"new note, MIDI pitch = token - 2 + {rt.PITCH_LO} ({rt.PITCH_LO}..{rt.PITCH_HI})"},
        "grid": {"step": "16th note", "steps_per_beat": 4, "step 0": "beat 1 of bar 1 (pickups padded)",
                 "meters_seen": "4/4 (16 steps), 3/4 (12), 3/2 (24) in chorales; 2/4, 6/8, ... in folk"},
        "inputs": {
            "features": f"[1, {rt.FEATURE_DIM}] float32: for each of soprano (player, at step k-2) and alto, "
                        "tenor, bass (own committed actions at step k-1): rest/hold/onset flags, "
                        f"sounding pitch one-hot ({rt.N_PITCH}), pitch class one-hot (12); step in bar "
                        f"one-hot ({rt.MAX_POS}); meter class ({len(rt.METERS) + 1}); step in beat (4); "
                        f"steps since the player's last onset, bucketed ({rt.N_SINCE}). "
                        "Encoding: liveai.neural.runtime.encode_step",
            "state": f"[{args.layers + 1}, 1, {args.hidden}] float32 (main GRU layers + listener), zeros at the start",
        },
        "outputs": {"logits": f"[1, 4, {rt.VOCAB}]: alto, tenor, bass at step k; melody = the player's step k-1",
                    "state_out": "the state after step k",
                    "chord": "[1, 12]: P(pitch class sounds at step k in the full texture), from the listener"},
        "causality": "step k is planned from player input up to k-2 (liveai.evaluation LOOKAHEAD_STEPS=1) "
                     "and the accompaniment actually committed up to k-1; trained the same way",
        "ranges_at_sampling": rt.RANGES,
        "training_data": {
            "chorales": "music21 corpus, Bach chorales with four parts (soprano = player; alto, tenor, bass = "
                        "accompaniment), duplicates removed, quantized to 16ths",
            "folk": "music21 corpus: Essen folk songs (40 tunes per collection file), every 3rd Ryan's Mammoth "
                    "file, every 4th O'Neill 1850 file: melody head only",
            "augmentation": "train pieces transposed to all 12 keys where every part stays in range"
                            if not args.no_transpose else "none",
            "split": {"seed": args.split_seed, "by": "piece", "train": len(split["train"]),
                      "val": len(split["val"]), "test": len(split["test"]), "folk": folk_split},
            "test_pieces": split["test"], "val_pieces": split["val"],
        },
        "training": {"epochs": args.epochs, "batch": args.batch, "crop_steps": args.crop, "lr": args.lr,
                     "seed": args.seed, "optimizer": "AdamW, one-cycle", "history": history},
        "metrics": {
            "teacher_forced": {"fp32": tf32, "int8": tf8,
                               "int8_relative_accuracy_loss_val": round(rel_loss, 4)},
            "size_bytes": {"fp32": fp32_path.stat().st_size, "int8": int8_path.stat().st_size},
            "weight_bytes": weights,
            "latency_one_thread": {"fp32": results["latency_fp32"], "int8": results["latency_int8"]},
            "online_test": {k: {kk: vv for kk, vv in v.items() if kk != "per_piece"}
                            for k, v in results["online"].items()},
            "online_test_per_piece": {k: v.get("per_piece") for k, v in results["online"].items()},
            "bach_voice_leading_test": results["bach_voice_leading"],
            "online_sampling": results["sampling"],
            "melody_folk_test": results.get("melody_folk_test"),
            "synthetic_tunes": results.get("synthetic_tunes"),
            "plain_tunes": results.get("plain_tunes"),
            "decoding_step_cost": results.get("decoding_step_cost"),
        },
        "shipped": "int8" if rel_loss <= 0.02 else "int8 (NOTE: loses more than 2% relative accuracy)",
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=1, default=float) + "\n")
    out.with_suffix(".md").write_text(_markdown(card))
    return card


def _f(x, nd=3):
    return "n/a" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def _markdown(c: dict) -> str:
    m = c["metrics"]
    tf = m["teacher_forced"]
    on = m["online_test"]
    lines = [f"# {c['name']}: the liveai neural accompanist", "",
             "A small streaming network that plays alto, tenor and bass under a melody, one 16th-note step "
             "at a time, from what the player played up to two steps ago and what it played itself. "
             "A fourth head predicts the player's next step (melody continuation, for call-and-response). "
             "A separate listener GRU that hears only the player predicts which pitch classes the coming chord "
             "holds; notes are chosen by the voice heads weighted by that chord estimate "
             f"(chord weight {c['architecture']['decoding']['chord_weight']}, spread "
             f"{c['architecture']['decoding']['spread']}), which the runtime sharpens with what it knows of "
             "the key, the rules accompanist's chord guess on the same melody and the bar's harmonic rhythm "
             "(`liveai.generators.neural.DECODING`: " + ", ".join(
                 f"{k} {v}" for k, v in c['architecture']['decoding'].items()
                 if k not in ("rule", "file_suggests", "chord_weight", "spread")) + ").", "",
             f"- File: `{c['file']}` ({m['size_bytes']['int8']} bytes, "
             f"{m['weight_bytes']['int8']['int8_share']:.1%} of weight bytes int8), format `{c['version']}`",
             f"- Architecture: {c['architecture']['type']}; hidden {c['architecture']['hidden']}, "
             f"{c['architecture']['layers']} layers; {c['architecture']['quantization']}",
             f"- Data: Bach chorales (music21), split by piece (seed {c['training_data']['split']['seed']}: "
             f"{c['training_data']['split']['train']} train / {c['training_data']['split']['val']} val / "
             f"{c['training_data']['split']['test']} test), {c['training_data']['augmentation']}; folk melodies "
             "for the melody head",
             f"- Reproduce: `{c['reproduce']['command']}` (evaluation only: `{c['reproduce']['evaluate_only']}`)",
             "", "## fp32 vs int8", "",
             "| | size (bytes) | step p50 (ms) | step p99 (ms) | val loss | val acc | test loss | test acc |",
             "|---|---|---|---|---|---|---|---|"]
    for t in ("fp32", "int8"):
        lat = m["latency_one_thread"][t]
        lines.append(f"| {t} | {m['size_bytes'][t]} | {_f(lat['p50_ms'])} | {_f(lat['p99_ms'])} | "
                     f"{_f(tf[t]['val']['accompaniment']['loss'])} | {_f(tf[t]['val']['accompaniment']['acc'])} | "
                     f"{_f(tf[t]['test']['accompaniment']['loss'])} | {_f(tf[t]['test']['accompaniment']['acc'])} |")
    lines += ["", f"Relative accuracy lost by int8 (val): {tf['int8_relative_accuracy_loss_val']:.2%}. "
              f"Shipped: {c['shipped']}. Accuracy = next-step token (rest/hold/pitch) accuracy, teacher-forced.", "",
              "## Next-step accuracy per part (held-out test chorales, int8)", "",
              "| part | loss | accuracy |", "|---|---|---|"]
    for h in ("alto", "tenor", "bass", "melody"):
        r = tf["int8"]["test"].get(h)
        if r:
            lines.append(f"| {h} | {_f(r['loss'])} | {_f(r['acc'])} |")
    lines += ["", "## Online accompaniment of held-out soprano lines", "",
              "Driven by `liveai.evaluation.run_online` (exactly what the engine lets a generator know), "
              "scored by `note_in_chord` against Bach's true harmony (pitch classes of all four voices at "
              f"each step). Model sampling: temperature {m['online_sampling']['temperature']}, seed "
              f"{m['online_sampling']['seed']}.", "",
              "| generator | note-in-chord | bars with notes | parallels /1000 steps | out of usual range | "
              "steps with >= 2 pitch classes |",
              "|---|---|---|---|---|---|"]
    for k, v in on.items():
        if "error" in v:
            lines.append(f"| {k} | n/a ({v['error']}) | | | | |")
            continue
        vl = v["voice_leading"]
        lines.append(f"| {k} | {_f(v['note_in_chord'])} | {_f(v['bars_with_notes'])} | "
                     f"{vl['parallels_per_1000_steps']} ({vl['parallel_fifths']} 5ths, {vl['parallel_octaves']} 8ves) | "
                     f"{vl['out_of_range_share']:.1%} | {_f(v.get('two_or_more_pitch_classes'))} |")
    syn = m.get("synthetic_tunes") or {}
    if syn:
        gens = [g for g in syn if "error" not in syn[g]]
        tunes = list(syn[gens[0]]) if gens else []
        lines += ["", "## Plain tunes with known chords (liveai.train.evaluate.synthetic_tunes), note-in-chord", "",
                  "| tune | " + " | ".join(gens) + " |", "|---" * (len(gens) + 1) + "|"]
        for t in tunes:
            lines.append(f"| {t} | " + " | ".join(_f(syn[g][t]["note_in_chord"]) for g in gens) + " |")
    pt = m.get("plain_tunes") or {}
    if pt:
        gens = [g for g in pt if "error" not in pt[g]]
        tunes = list(pt[gens[0]]) if gens else []
        lines += ["", "## Plain tunes of liveai.music.tunes (PLAIN_TUNES and the demo tunes), note-in-chord (bars with notes)",
                  "", "`model_int8_demo` is what `liveai demo --mode accompany --seed 1` plays (temperature 0.7, "
                  "top-p 0.9, seed 1); `model_int8` is greedy. Asserted in tests/generators/test_model_tunes.py. "
                  "Texture: the demo's accompaniment sounds two or more distinct pitch classes on " + ", ".join(
                      f"{t} {pt['model_int8_demo'][t].get('two_or_more_pitch_classes', 0):.0%}"
                      for t in pt.get("model_int8_demo", {})) + " of its sounding steps (the rest are "
                  "unisons/octaves: the decoding doubles the likeliest chord tone when unsure).", "",
                  "| tune | " + " | ".join(gens) + " |", "|---" * (len(gens) + 1) + "|"]
        for t in tunes:
            lines.append(f"| {t} | " + " | ".join(
                f"{_f(pt[g][t]['note_in_chord'])} ({_f(pt[g][t]['bars_with_notes'], 2)})" for g in gens) + " |")
    dc = m.get("decoding_step_cost")
    if dc:
        lines += ["", f"Step cost of ModelGenerator.plan on the plain tunes (network + decoding, one thread, "
                  f"{dc['n']} steps): p50 {dc['plan_p50_ms']} ms, p99 {dc['plan_p99_ms']} ms; decoding alone "
                  f"p50 {dc['decode_p50_ms']} ms, p99 {dc['decode_p99_ms']} ms."]
    b = m["bach_voice_leading_test"]
    lines += ["", f"Bach's own parts on the same pieces: {b['parallels_per_1000_steps']} parallels per 1000 steps "
              f"({b['parallel_fifths']} fifths, {b['parallel_octaves']} octaves).", "",
              "## Use", "",
              "```python\nfrom liveai.generators.neural import ModelGenerator, MelodyModel\n"
              "gen = ModelGenerator(seed=1)            # models/accompanist.onnx\n"
              "mel = MelodyModel(seed=1).continue_melody(notes, 16, start_step=64, n_steps=32)\n```", "",
              "Test pieces: " + ", ".join(c["training_data"]["test_pieces"]), ""]
    return "\n".join(lines)
