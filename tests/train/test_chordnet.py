"""The chord model's training and export contract, on a tiny synthetic song set (the train extra).

Shapes, the state carried between steps, the int8 share of the exported weights, the vocabulary,
and that the exported one-step graph computes what the trained network computes."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from liveai.music.theory import ChordSymbol  # noqa: E402
from liveai.harmony.chordvocab import N_CLASSES, NO_CHORD, QUALITIES, chord_index, index_chord  # noqa: E402
from liveai.neural import chordmodel as cm  # noqa: E402
from liveai.train import chordnet as cn  # noqa: E402


def _songs(n: int = 6, T: int = 96) -> list[cn.Song]:
    rng = np.random.default_rng(3)
    out = []
    for i in range(n):
        roots = np.repeat(rng.integers(0, 12, T // 8 + 1), 8)[:T]
        target = roots * len(QUALITIES) + 0
        mel = (60 + roots + rng.choice([0, 4, 7], T)).astype(np.int64)
        mel[::7] = 0
        out.append(cn.Song(f"s/{i}", mel, (rng.random(T) < 0.5).astype(np.uint8), target,
                           np.zeros(T, np.int64), 16))
    return out


def test_vocabulary_round_trip_and_folding():
    for i in range(N_CLASSES - 1):
        assert chord_index(index_chord(i)) == i
    assert chord_index(None) == NO_CHORD
    assert index_chord(NO_CHORD) is None
    assert index_chord(chord_index(ChordSymbol(9, "m7"))) == ChordSymbol(9, "m7")
    assert index_chord(chord_index(ChordSymbol(2, "dim7"))) == ChordSymbol(2, "dim")  # folded
    assert index_chord(chord_index(ChordSymbol(0, "maj")), bass_interval=4) == ChordSymbol(0, "maj", 4)


def test_horizon_targets_look_ahead():
    target = np.array([5, 5, 7, NO_CHORD, 9])
    Y, B = cn.horizon_targets(target, np.zeros(5, np.int64))
    assert Y.shape == (5, cm.HORIZONS)
    assert list(Y[:, 0]) == [5, 5, 7, cn.IGNORE, 9]  # no chord is not a target
    assert list(Y[0, :5]) == [5, 5, 7, cn.IGNORE, 9]  # frame 0 sees the song ahead
    assert Y[4, 1] == cn.IGNORE  # past the end


def test_features_and_targets_are_relative_to_the_anchor():
    s = _songs(1)[0]
    x0 = cm.encode_song(s.mel, s.onset, 16)
    x3 = cm.encode_song(s.mel, s.onset, 16, anchor=3)
    k = int(np.nonzero(s.mel)[0][0])
    assert np.argmax(x3[k, cm.MEL:cm.MEL + 12]) == (np.argmax(x0[k, cm.MEL:cm.MEL + 12]) - 3) % 12
    assert cm.rotate_class(np.array([0, NO_CHORD]), 3).tolist() == [3 * len(QUALITIES), NO_CHORD]
    Y, _ = cn.horizon_targets(np.array([3 * len(QUALITIES)] * 4), np.zeros(4, np.int64), np.full(4, 3))
    assert Y[0, 0] == 0  # E-flat major heard in E-flat: the tonic


def test_the_same_song_in_another_key_looks_the_same_to_the_model():
    T = 64  # a tune in C: C D E F G F E D | C ... (no ties between keys), a chord a bar
    mel = np.repeat(np.array([60, 62, 64, 65, 67, 65, 64, 62] * 2), 4)
    onset = np.tile([1, 0, 0, 0], T // 4).astype(np.uint8)
    target = np.repeat(np.array([0, 5 * len(QUALITIES), 7 * len(QUALITIES), 0]), 16)
    s = cn.Song("c", mel, onset, target, np.zeros(T, np.int64), 16)
    up = cn.Song("up", np.where(s.mel > 0, s.mel + 5, 0), s.onset, cm.rotate_class(s.target, 5), s.bass, 16)
    np.testing.assert_array_equal((s.anchor + 5) % 12, up.anchor)
    x, xu = (cm.encode_song(z.mel, z.onset, 16, anchor=z.anchor) for z in (s, up))
    np.testing.assert_array_equal(x[:, :cm.HEIGHT], xu[:, :cm.HEIGHT])  # all but the height
    np.testing.assert_array_equal(cn.horizon_targets(s.target, s.bass, s.anchor)[0],
                                  cn.horizon_targets(up.target, up.bass, up.anchor)[0])


@pytest.mark.parametrize("arch,net,state", [("gru", {"hidden": 16, "layers": 2}, (2, 1, 16)),
                                            ("window", {"window": 8, "proj": 6, "hidden": 16}, (8, 1, 6))])
def test_export_matches_torch_and_carries_state(tmp_path, arch, net, state):
    songs = _songs()
    model, info = cn.train(songs, songs[:2], arch=arch, **net, minutes=0.05, batch=4, crop=64,
                           log=lambda s: None)
    assert info["updates"] > 0
    path = cn.export(model, tmp_path / "tiny", train_songs=len(songs))
    m = cm.ChordModel(path, warmup=0)
    assert m.spec.state_shape == state and m.state.shape == state
    # the int8 file: every weight matrix quantized (biases stay float)
    import onnx
    from onnx import numpy_helper
    by = {}
    for t in onnx.load(str(path)).graph.initializer:
        a = numpy_helper.to_array(t)
        by[str(a.dtype)] = by.get(str(a.dtype), 0) + a.nbytes
    assert by.get("int8", 0) + by.get("uint8", 0) > 0.6 * sum(by.values())
    # fp32 export = torch, step by step, state carried
    fp = cm.ChordModel(path.with_suffix(".fp32.onnx"), warmup=0)
    s = songs[0]
    x = torch.from_numpy(cm.encode_song(s.mel[:20], s.onset[:20], 16, anchor=s.anchor[:20]))[None]
    model.eval()
    with torch.no_grad():
        logits, _, _ = model(x)
    ref = torch.softmax(logits[0], -1).numpy()
    for t in range(20):
        p = int(s.mel[t])
        a = int(s.anchor[t])
        fp.step(p if p else None, bool(s.onset[t]), t % 16, 16, anchor=a)
        assert fp.probs.shape == (cm.HORIZONS, N_CLASSES)
        # the runtime gives absolute classes: the network's relative class c is absolute c + anchor
        np.testing.assert_allclose(fp.probs[:, cm.rotate_class(np.arange(N_CLASSES), a)], ref[t], atol=1e-4)
        m.step(p if p else None, bool(s.onset[t]), t % 16, 16, anchor=a)
    assert fp.frames == 20 and np.abs(fp.state).sum() > 0
    # peek does not move the state; reset clears it
    st = m.state.copy()
    m.peek(64, True, 4, 16)
    np.testing.assert_array_equal(m.state, st)
    m.reset()
    assert not m.state.any() and m.frames == 0
    # int8 stays close to fp32 in what it ranks first
    np.testing.assert_allclose(m.initial_state(), fp.initial_state())


def test_a_foreign_model_is_refused(tmp_path):
    from liveai.neural.runtime import DEFAULT_MODEL_PATH, ModelError
    with pytest.raises(ModelError, match="format"):
        cm.ChordModel(DEFAULT_MODEL_PATH)  # the accompanist, not a chord model
