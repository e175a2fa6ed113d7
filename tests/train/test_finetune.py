"""The numpy fine-tuner: its gradients are the loss's, it learns, and it writes a model liveai loads."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

pytest.importorskip("onnx")

from liveai.neural import chordmodel as cm  # noqa: E402
from liveai.train import finetune as ft  # noqa: E402
from liveai.train.chorddata import IGNORE, Song  # noqa: E402


def small_weights(rng, window=4, proj=3, hidden=5) -> ft.Weights:
    F, O = cm.FEATURE_DIM, cm.HORIZONS * (cm.N_CLASSES + 12)
    return ft.Weights(rng.normal(0, .3, (F, proj)).astype(np.float32), rng.normal(0, .1, proj).astype(np.float32),
                      rng.normal(0, .3, (window * proj, hidden)).astype(np.float32),
                      rng.normal(0, .1, hidden).astype(np.float32), rng.normal(0, .3, (hidden, O)).astype(np.float32),
                      rng.normal(0, .1, O).astype(np.float32), {"window": window})


def song(seed: int, bars: int = 8) -> Song:
    """A tune over I-V-vi-IV in C whose chord follows its melody."""
    rng = np.random.default_rng(seed)
    prog = [(0, 0, (60, 64, 67)), (7, 0, (67, 71, 74)), (9, 1, (69, 72, 76)), (5, 0, (65, 69, 72))]
    mel, onset, target, bass = [], [], [], []
    for b in range(bars):
        root, q, tones = prog[b % 4]
        for beat in range(4):
            p = int(rng.choice(tones))
            mel += [p] * 4
            onset += [1, 0, 0, 0]
        target += [root * len(cm.QUALITIES) + q] * 16
        bass += [0] * 16
    return Song(f"s{seed}", np.array(mel), np.array(onset, np.uint8), np.array(target), np.array(bass), 16)


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    w = small_weights(rng)
    fr = ft.frames_of([song(1, 2)], w, rng)
    pick = np.arange(0, len(fr.rows), 7)[:5]
    xw, Y, B = ft.gather(fr, pick, w.window), fr.Y[pick], fr.B[pick]
    _, _, g = ft.loss_and_grads(w, xw, Y, B, projection=True)
    for name in ("wp", "bp", "w1", "b1", "w_out", "b_out"):
        a = getattr(w, name)
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.abs(g[name]))), a.shape))
        old = float(a[idx])
        eps = 1e-2
        a[idx] = old + eps
        lp = ft.loss_and_grads(w, xw, Y, B)[0]
        a[idx] = old - eps
        lm = ft.loss_and_grads(w, xw, Y, B)[0]
        a[idx] = old
        num = (lp - lm) / (2 * eps)
        assert abs(num - g[name][idx]) <= 0.05 * abs(num) + 1e-4, (name, num, g[name][idx])


def test_fine_tuning_the_shipped_model_learns_the_players_progression(tmp_path):
    base_path = cm.DEFAULT_CHORD_MODEL_PATH
    sha = hashlib.sha256(base_path.read_bytes()).hexdigest()
    base = ft.load_weights(base_path)
    train, test = [song(i) for i in range(6)], [song(100 + i) for i in range(2)]
    rng = np.random.default_rng(0)
    before = ft.accuracy(base, ft.frames_of(test, base, rng))["d0"]
    seen = []
    w, info = ft.fine_tune(base, train, ft.FineTuneSettings(updates=150, batch=64),
                           progress=lambda *a: seen.append(a))
    after = ft.accuracy(w, ft.frames_of(test, base, rng))["d0"]
    assert info["updates"] == 150 and info["loss_last"] < info["loss_first"]
    assert seen and seen[-1][:2] == (150, 150)
    assert after > before + 0.2 and after >= 0.8, (before, after)
    assert np.array_equal(w.wp, base.wp)  # the projection is the shipped one
    out = ft.write_model(base_path, w, tmp_path / "me" / "chords.onnx", {"personal": "me", "model_weight": 2.0})
    m = cm.ChordModel(out)
    assert m.spec.card["personal"] == "me" and m.spec.card["model_weight"] == 2.0
    # the written int8 model names the player's chords as the float weights do
    s = test[0]
    fr = ft.frames_of([s], w, rng)
    _, c, _, _ = ft.forward(w, ft.gather(fr, np.arange(len(fr.rows)), w.window))
    m.reset()
    same = 0
    for t in range(len(s.mel)):
        m.step(int(s.mel[t]), bool(s.onset[t]), t % 16, 16, anchor=int(s.anchor[t]))
        float_abs = int(cm.rotate_class(int(np.argmax(c[t, 0])), int(s.anchor[t])))
        same += int(np.argmax(m.probs[0])) == float_abs
    assert same >= 0.9 * len(s.mel), same
    with pytest.raises(ValueError):
        ft.write_model(base_path, w, base_path, {})
    assert hashlib.sha256(base_path.read_bytes()).hexdigest() == sha
    assert IGNORE < 0
