"""Runtime of the streaming chord model: which chord sounds now and at the coming steps.

The contract with the exported model (format CHORD_MODEL_VERSION), shared with training
(liveai.train.chordnet imports the encoding from here, so both see the same inputs):

Stepped once per 16th-note frame t, in order, with its recurrent state carried:
  features [1, FEATURE_DIM] float32 of frame t: the melody sounding at t (pitch class one-hot, rest,
    onset, height), the position in the bar, and the chord the player holds at t, if any;
    pitch classes and chord roots are relative to the anchor: the tonic of the major key (or the
    relative major of the minor key) heard in the melody so far (liveai.harmony.modelears.
    key_anchors), so the network is the same in every key by construction and learns from each
    song once instead of in twelve transpositions;
  state float32 of the shape the model's spec names (state_shape; zeros at the start of a song):
    [layers, 1, hidden] for a GRU, [window, 1, proj] for the window model (the last frames heard).
Outputs: chord [1, HORIZONS, N_CLASSES] (roots relative to the anchor) and bass [1, HORIZONS, 12]
logits for the frames t+d, d = 0..HORIZONS-1 (d = 0: the frame just heard), and state_out.

Chord classes: root * len(QUALITIES) + quality index, and NO_CHORD last. The bass head gives the
written bass as an interval above the root (0: the root; else a slash chord).

numpy + onnxruntime only.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from liveai.harmony.chordvocab import (CLASS_PCS, N_CHORDS, N_CLASSES, NO_CHORD, QUALITIES,  # noqa: F401
                                       TRIAD_OF_CLASS, chord_index, index_chord)
from liveai.neural.runtime import ModelError, check_model_file, make_session

CHORD_MODEL_VERSION = "liveai-chords/2"  # /2: key-relative
HORIZONS = 17  # d = 0..16: from the frame just heard to a bar ahead

MEL = 0  # 12 pitch-class one-hot
REST = 12
ONSET = 13
HEIGHT = 14
POS = 15  # 16 step-in-bar one-hot
METER = 31  # 1 when the bar is not 16 steps (3/4, 6/8 ...)
PLAYED = 32  # N_CHORDS one-hot of the chord the player holds
PLAYED_FLAG = PLAYED + N_CHORDS
FEATURE_DIM = PLAYED_FLAG + 1


def _default_path() -> Path:
    import sys
    here = Path(__file__).resolve().parents[2] / "models" / "chords.onnx"
    if here.exists():
        return here
    for prefix in (sys.prefix, sys.base_prefix, "/usr/local", "/usr"):
        p = Path(prefix) / "share" / "liveai" / "models" / "chords.onnx"
        if p.exists():
            return p
    return here


DEFAULT_CHORD_MODEL_PATH = _default_path()


def rotate_class(cls, k):
    """Chord classes transposed by k semitones (NO_CHORD stays)."""
    root, q = np.divmod(cls, len(QUALITIES))
    return np.where(np.asarray(cls) >= N_CHORDS, cls, ((root + k) % 12) * len(QUALITIES) + q)


# _TO_ABS[a][relative class] = absolute class, for anchor a
_TO_ABS = [rotate_class(np.arange(N_CLASSES), a) for a in range(12)]
_FROM_ABS = [np.argsort(p) for p in _TO_ABS]  # _FROM_ABS[a][absolute class] = relative class


def encode_frame(out: np.ndarray, pitch: int | None, onset: bool, pos: int, steps_per_bar: int,
                 played: int | None = None, anchor: int = 0) -> np.ndarray:
    """Write one frame's features into out (FEATURE_DIM,): pitch None = rest; played = the
    (absolute) class of the chord the player holds (None: none); anchor: see the module docstring."""
    out[:] = 0.0
    if played is not None and 0 <= played < N_CHORDS:
        played = int(_FROM_ABS[anchor % 12][played])
    if pitch is None or pitch <= 0:
        out[REST] = 1.0
    else:
        out[MEL + (pitch - anchor) % 12] = 1.0
        out[HEIGHT] = (pitch - 66) / 12.0
        out[ONSET] = 1.0 if onset else 0.0
    out[POS + min(pos % steps_per_bar, 15)] = 1.0
    out[METER] = 0.0 if steps_per_bar == 16 else 1.0
    if played is not None and 0 <= played < N_CHORDS:
        out[PLAYED + played] = 1.0
        out[PLAYED_FLAG] = 1.0
    return out


def encode_song(mel: np.ndarray, onset: np.ndarray, steps_per_bar: int, played: np.ndarray | None = None,
                anchor: np.ndarray | int = 0) -> np.ndarray:
    """Features [T, FEATURE_DIM] of a whole song (training): mel = pitch per frame (0: rest), step 0
    on a downbeat; played = absolute class per frame or -1; anchor per frame (or one for all)."""
    T = len(mel)
    x = np.zeros((T, FEATURE_DIM), np.float32)
    sounding = mel > 0
    p = mel.astype(np.int64)
    anc = np.broadcast_to(np.asarray(anchor, np.int64), (T,))
    idx = np.nonzero(sounding)[0]
    x[idx, MEL + (p[idx] - anc[idx]) % 12] = 1.0
    x[idx, HEIGHT] = (p[idx] - 66) / 12.0
    x[idx, ONSET] = onset[idx].astype(np.float32)
    x[~sounding, REST] = 1.0
    pos = np.minimum(np.arange(T) % steps_per_bar, 15)
    x[np.arange(T), POS + pos] = 1.0
    x[:, METER] = 0.0 if steps_per_bar == 16 else 1.0
    if played is not None:
        k = np.nonzero(played >= 0)[0]
        cls = rotate_class(played[k], -anc[k])
        x[k, PLAYED + cls] = 1.0
        x[k, PLAYED_FLAG] = 1.0
    return x


@dataclass
class ChordModelSpec:
    hidden: int
    layers: int
    card: dict
    state_shape: tuple[int, ...] = ()


class ChordModel:
    """A loaded, checked chord model with its state: step() a frame, then read probabilities."""

    def __init__(self, path: str | os.PathLike | None = None, warmup: int = 20) -> None:
        self.path = check_model_file(path or DEFAULT_CHORD_MODEL_PATH)
        try:
            self.session = make_session(self.path)
        except Exception as e:
            raise ModelError(f"chord model {self.path}: cannot be loaded by onnxruntime: "
                             f"{str(e).splitlines()[0][:200]}") from None
        self.spec = self._validate()
        self._x = np.zeros((1, FEATURE_DIM), np.float32)
        self.state = self.initial_state()
        self.probs = np.full((HORIZONS, N_CLASSES), 1.0 / N_CLASSES, np.float32)
        self.bass = np.zeros((HORIZONS, 12), np.float32)
        self.frames = 0
        for _ in range(warmup):
            self.session.run(None, {"features": self._x, "state": self.state})

    def _validate(self) -> ChordModelSpec:
        meta = self.session.get_modelmeta().custom_metadata_map
        version = meta.get("liveai_version")
        if version != CHORD_MODEL_VERSION:
            raise ModelError(f"chord model {self.path}: format {version!r}, expected {CHORD_MODEL_VERSION!r}")
        try:
            spec = json.loads(meta["liveai_spec"])
            hidden, layers = int(spec["hidden"]), int(spec["layers"])
            shape = tuple(int(n) for n in spec.get("state_shape", (layers, 1, hidden)))
        except (KeyError, ValueError, TypeError) as e:
            raise ModelError(f"chord model {self.path}: bad liveai_spec metadata ({e})") from None
        if spec.get("feature_dim") != FEATURE_DIM or spec.get("classes") != N_CLASSES \
                or spec.get("horizons") != HORIZONS or list(spec.get("qualities", [])) != list(QUALITIES):
            raise ModelError(f"chord model {self.path}: its features, classes or horizons are not this "
                             f"liveai's ({FEATURE_DIM}, {N_CLASSES}, {HORIZONS})")
        return ChordModelSpec(hidden, layers, spec, shape)

    def initial_state(self) -> np.ndarray:
        return np.zeros(self.spec.state_shape, np.float32)

    def reset(self) -> None:
        self.state = self.initial_state()
        self.probs[:] = 1.0 / N_CLASSES
        self.bass[:] = 0.0
        self.frames = 0

    def _run(self, pitch, onset, pos, spb, played, state, anchor):
        encode_frame(self._x[0], pitch, onset, pos, spb, played, anchor)
        chord, bass, st = self.session.run(None, {"features": self._x, "state": state})
        # back to absolute roots: absolute class c is relative class _FROM_ABS[anchor][c]
        return _softmax(chord[0])[:, _FROM_ABS[anchor % 12]], bass[0], st

    def step(self, pitch: int | None, onset: bool, pos: int, steps_per_bar: int, played: int | None = None,
             anchor: int = 0) -> None:
        """Hear one frame (the next, in order): probabilities of the coming frames (absolute
        classes) are then in self.probs[d] (d steps after this frame)."""
        self.probs, self.bass, self.state = self._run(pitch, onset, pos, steps_per_bar, played, self.state, anchor)
        self.frames += 1

    def peek(self, pitch: int | None, onset: bool, pos: int, steps_per_bar: int,
             played: int | None = None, anchor: int = 0) -> np.ndarray:
        """The probabilities after one more frame, without keeping it (a frame not yet complete:
        a note just struck)."""
        probs, _, _ = self._run(pitch, onset, pos, steps_per_bar, played, self.state, anchor)
        return probs

    def bass_interval(self, d: int) -> int:
        return int(np.argmax(self.bass[min(max(d, 0), HORIZONS - 1)]))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def load_default(path: str | os.PathLike | None = None) -> ChordModel | None:
    """The built-in chord model, or None when it is missing (the planner then plans without it)."""
    p = Path(path) if path else DEFAULT_CHORD_MODEL_PATH
    if path is None and not p.exists():
        return None
    return ChordModel(p)


def benchmark_step(path: str | os.PathLike | None = None, n: int = 3000) -> dict:
    """Median and p99 of one step (ms), on random frames."""
    m = ChordModel(path)
    rng = np.random.default_rng(0)
    ts = []
    for i in range(n):
        p = int(rng.integers(55, 80)) if rng.random() < 0.8 else None
        t0 = time.perf_counter()
        m.step(p, bool(rng.random() < 0.3), i % 16, 16)
        ts.append(time.perf_counter() - t0)
    a = np.array(ts) * 1000
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)), "n": n}
