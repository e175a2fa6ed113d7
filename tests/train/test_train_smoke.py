"""Smoke test of `liveai train`: a tiny model on a few chorales, exported, quantized, loaded.

Needs the optional `train` extra (torch, music21, onnx); skipped without it."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("music21")
pytest.importorskip("onnx")

from liveai.neural import runtime as rt  # noqa: E402


def test_encode_step_matches_encode_sequence():
    rng = np.random.default_rng(0)
    T = 60
    roll = np.zeros((4, T), np.int16)
    onset = np.zeros((4, T), bool)
    for i, (lo, hi) in enumerate(((60, 80), (55, 72), (48, 67), (36, 60))):
        k = 3
        while k < T:
            d = int(rng.integers(1, 6))
            if rng.random() < 0.85:
                roll[i, k:k + d] = rng.integers(lo, hi)
                onset[i, k] = True
            k += d
    x = rt.encode_sequence(roll, onset, 12)
    last = None
    for k in range(T):
        parts = []
        for i in range(4):
            t = k - (2 if i == 0 else 1)
            if t < 0 or roll[i, t] == 0:
                parts.append((0, 0))
            else:
                parts.append((2 if onset[i, t] else 1, int(roll[i, t])))
        if k - 2 >= 0 and onset[0, k - 2] and roll[0, k - 2]:
            last = k - 2
        since = (k - 2 - last) if last is not None and k >= 2 else -1
        assert np.array_equal(rt.encode_step(k, 12, parts, since), x[k]), k


def test_step_cell_matches_training_gru(tmp_path):
    from liveai.train.network import Accompanist, export_onnx, quantize, weight_bytes
    torch.manual_seed(0)
    m = Accompanist(hidden=24, layers=2).eval()
    x = torch.rand(1, 12, rt.FEATURE_DIM)
    with torch.no_grad():
        y, h = m(x)
    path = tmp_path / "m.onnx"
    export_onnx(m, path)
    am = rt.AccompanistModel(path)
    st = am.initial_state()
    for k in range(12):
        lg, st = am.step(x[0, k].numpy(), st)
    assert np.allclose(lg, y[0, -1].numpy(), atol=1e-4)
    q = tmp_path / "m8.onnx"
    quantize(path, q)
    assert weight_bytes(q)["int8_share"] >= 0.6
    rt.AccompanistModel(q)


def test_quick_train_export_load(tmp_path):
    from liveai.train.traincli import main
    out = tmp_path / "acc"
    assert main(["--quick", "--out", str(out), "--cache", str(tmp_path / "cache"), "--max-pieces", "8"]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["version"] == rt.MODEL_VERSION
    assert card["metrics"]["weight_bytes"]["int8"]["int8_share"] >= 0.6
    assert card["training_data"]["test_pieces"]
    # the harmony tables of liveai.evaluation, with the quick model playing (through the demo CLI)
    harmony = card["metrics"]["harmony"]
    assert "--model" in harmony["model_generator"]
    for group in ("melody", "chords"):
        assert {"model", "drone", "ceiling"} <= set(harmony[group])
        assert 0.0 <= harmony[group]["model"]["f1"] <= 1.0
    assert card["metrics"]["decoding_step_cost"]["n"] > 0
    assert "evaluate" in card["reproduce"]["card"]
    md = out.with_suffix(".md").read_text()
    assert "not tuned to one number" in md and card["reproduce"]["card"] in md
    from liveai.generators.neural import ModelGenerator
    g = ModelGenerator(out.with_suffix(".onnx"))
    from liveai.evaluation import run_online
    from liveai.generators.base import PlayerNote
    notes = run_online(g, [PlayerNote(60 + 2 * i, 80, 4 * i, 4 * i + 4) for i in range(8)], 16, 40)
    assert all(n.voice in g.voices for n in notes)
