"""Fine-tuning the shipped chord model on a player's songs, in numpy (no torch: it runs on the box).

The window model (liveai.train.chordnet.WindowNet) hears the last 64 frames, each squeezed by a
small projection, and reads them with one hidden layer. A player's few songs are too little to
relearn how a frame is heard, so the projection stays the shipped one; the hidden layer and the
output heads move, held near the shipped weights by an L2 pull towards them (L2-SP: a handful of
songs must not make the model forget the thousands it was trained on). Each training frame's
window is projected once, so an update is two matrix products forward and three back: a few
hundred updates take a minute or two on two cores.

Reads the int8 ONNX model's weights through the onnx package (the learn extra) and writes the
personal model the same way: the shipped graph with new weights, quantized per tensor as
onnxruntime's quantize_dynamic does, so liveai loads it exactly like the built-in one.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from liveai.neural import chordmodel as cm
from liveai.train.chorddata import IGNORE, Song, horizon_targets, played_track

HORIZON_WEIGHTS = np.array([1.0 if d <= 4 else 0.5 if d <= 8 else 0.25 for d in range(cm.HORIZONS)], np.float32)
TRAINED = ("w1", "b1", "w_out", "b_out")
PROJECTION = ("wp", "bp")  # trained too with tune_projection (measured: it overfits a player's few songs)


@dataclass
class Weights:
    """The window model's float weights (names as in the exported graph) and its spec."""
    wp: np.ndarray
    bp: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w_out: np.ndarray
    b_out: np.ndarray
    spec: dict = field(default_factory=dict)

    @property
    def window(self) -> int:
        return int(self.spec["window"])


@dataclass(frozen=True)
class FineTuneSettings:
    updates: int = 600
    batch: int = 256  # frames per update
    lr: float = 1e-3
    pull: float = 1e-3  # L2 pull of the trained weights towards the shipped ones
    p_played: float = 0.2  # share of frames heard with the true chord as "played" (as in training)
    minutes: float = 4.0  # wall-clock cap: the updates stop here whatever the count
    seed: int = 1
    tune_projection: bool = False


def load_weights(path: str | os.PathLike) -> Weights:
    """Dequantized weights of a window chord model (its int8 ONNX)."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(str(path))
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    meta = {p.key: p.value for p in m.metadata_props}
    spec = json.loads(meta.get("liveai_spec", "{}"))
    if spec.get("arch") != "window":
        raise ValueError(f"{path}: only the window chord model can be fine-tuned (this one is {spec.get('arch')!r})")
    out = {}
    for name in ("wp", "w1", "w_out"):
        q = init[f"{name}_quantized"].astype(np.float32)
        out[name] = (q - float(init[f"{name}_zero_point"])) * float(init[f"{name}_scale"])
    for name in ("bp", "b1", "b_out"):
        out[name] = init[name].astype(np.float32)
    return Weights(**out, spec=spec)


# ----------------------------------------------------------------------------- the data

@dataclass
class Frames:
    """Every scored frame of a set of songs: projected windows' source rows and targets."""
    x: np.ndarray  # [N_rows, FEATURE_DIM] float16 features, each song preceded by window-1 zero rows
    rows: np.ndarray  # [F]: the row of each scored frame (its window is rows-window+1 .. rows)
    Y: np.ndarray  # [F, HORIZONS] relative chord classes (IGNORE: not scored)
    B: np.ndarray  # [F, HORIZONS] bass intervals
    played: np.ndarray  # [F] bool: heard with the chord given as played


def project(w: Weights, x: np.ndarray) -> np.ndarray:
    """The frozen per-frame projection (a zero row, padding, stays zero as in training)."""
    p = np.maximum(x @ w.wp + w.bp, 0.0)
    return p * (np.abs(x).sum(-1, keepdims=True) > 0)


def frames_of(songs: list[Song], w: Weights, rng: np.random.Generator, p_played: float = 0.0) -> Frames:
    W = w.window
    chunks, rows, Ys, Bs, pl = [], [], [], [], []
    base = 0
    for s in songs:
        variants = [(None, False)] + ([(played_track(s.target, rng, s.steps_per_bar), True)] if p_played > 0 else [])
        Y, B = horizon_targets(s.target, s.bass, s.anchor)
        keep = (Y != IGNORE).any(1)
        for played, flag in variants:
            x = cm.encode_song(s.mel, s.onset, s.steps_per_bar, played, s.anchor)
            chunks.append(np.zeros((W - 1, x.shape[1]), np.float16))
            chunks.append(x.astype(np.float16))
            idx = np.nonzero(keep)[0]
            rows.append(base + W - 1 + idx)
            Ys.append(Y[idx])
            Bs.append(B[idx])
            pl.append(np.full(len(idx), flag))
            base += W - 1 + len(x)
    return Frames(np.concatenate(chunks) if chunks else np.zeros((0, cm.FEATURE_DIM), np.float16),
                  np.concatenate(rows) if rows else np.zeros(0, np.int64),
                  np.concatenate(Ys) if Ys else np.zeros((0, cm.HORIZONS), np.int64),
                  np.concatenate(Bs) if Bs else np.zeros((0, cm.HORIZONS), np.int64),
                  np.concatenate(pl) if pl else np.zeros(0, bool))


def gather(fr: Frames, pick: np.ndarray, window: int) -> np.ndarray:
    """[len(pick), window, FEATURE_DIM] the features of the picked frames' windows."""
    idx = fr.rows[pick][:, None] + np.arange(-window + 1, 1)[None, :]
    return fr.x[idx].astype(np.float32)


# ----------------------------------------------------------------------------- the model, in numpy

def forward(w: Weights, xw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """xw: [N, window, FEATURE_DIM] -> hidden, chord and bass logits, and the projected windows."""
    p = project(w, xw)
    flat = p.reshape(len(xw), -1)
    h = np.maximum(flat @ w.w1 + w.b1, 0.0)
    y = h @ w.w_out + w.b_out
    nc = cm.HORIZONS * cm.N_CLASSES
    return h, y[:, :nc].reshape(-1, cm.HORIZONS, cm.N_CLASSES), y[:, nc:].reshape(-1, cm.HORIZONS, 12), p


def _ce_grad(logits: np.ndarray, target: np.ndarray, weight: np.ndarray) -> tuple[float, np.ndarray]:
    """Weighted cross-entropy (mean over the weight) and its gradient; target IGNORE weighs 0."""
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(-1, keepdims=True)
    valid = target != IGNORE
    wt = weight * valid
    tot = max(float(wt.sum()), 1.0)
    t = np.where(valid, target, 0)
    lp = np.log(np.take_along_axis(p, t[..., None], -1)[..., 0] + 1e-12)
    loss = -float((lp * wt).sum()) / tot
    g = p
    np.put_along_axis(g, t[..., None], np.take_along_axis(g, t[..., None], -1) - 1.0, -1)
    return loss, g * (wt / tot)[..., None]


def loss_and_grads(w: Weights, xw: np.ndarray, Y: np.ndarray, B: np.ndarray, bass_weight: float = 0.3,
                   projection: bool = False):
    N = len(xw)
    h, c, b, p = forward(w, xw)
    lc, gc = _ce_grad(c, Y, np.broadcast_to(HORIZON_WEIGHTS, Y.shape))
    lb, gb = _ce_grad(b, B, np.ones(B.shape, np.float32))
    gy = np.concatenate([gc.reshape(N, -1), bass_weight * gb.reshape(N, -1)], 1).astype(np.float32)
    g = {"w_out": h.T @ gy, "b_out": gy.sum(0)}
    gh = (gy @ w.w_out.T) * (h > 0)
    g["w1"] = p.reshape(N, -1).T @ gh
    g["b1"] = gh.sum(0)
    if not projection:
        return lc + bass_weight * lb, lc, g
    gp = ((gh @ w.w1.T).reshape(p.shape) * (p > 0)).reshape(-1, p.shape[-1])  # relu, and padding rows stay 0
    g["wp"] = xw.reshape(-1, xw.shape[-1]).T @ gp
    g["bp"] = gp.sum(0)
    return lc + bass_weight * lb, lc, g


def accuracy(w: Weights, fr: Frames, horizons=(0, 4), chunk: int = 2048) -> dict:
    """Teacher-forced share of scored frames whose predicted triad is the true one, per horizon."""
    hits = {d: [0, 0] for d in horizons}
    plain = np.nonzero(~fr.played)[0]
    for a in range(0, len(plain), chunk):
        pick = plain[a:a + chunk]
        _, c, _, _ = forward(w, gather(fr, pick, w.window))
        pred = c.argmax(-1)
        for d in horizons:
            y = fr.Y[pick, d]
            m = y != IGNORE
            hits[d][0] += int((cm.TRIAD_OF_CLASS[pred[m, d]] == cm.TRIAD_OF_CLASS[y[m]]).sum())
            hits[d][1] += int(m.sum())
    return {f"d{d}": h[0] / max(1, h[1]) for d, h in hits.items()}


def fine_tune(base: Weights, songs: list[Song], settings: FineTuneSettings = FineTuneSettings(),
              progress: Callable[[int, int, float, float], None] | None = None) -> tuple[Weights, dict]:
    """The personal weights, and what happened (updates, seconds, loss before and after).
    progress(update, total, loss, seconds) is called every few updates."""
    rng = np.random.default_rng(settings.seed)
    fr = frames_of(songs, base, rng, settings.p_played)
    if not len(fr.rows):
        raise ValueError("no frame with a chord to learn from")
    trained = TRAINED + (PROJECTION if settings.tune_projection else ())
    w = replace(base, **{k: getattr(base, k).copy() for k in trained})
    m = {k: np.zeros_like(getattr(w, k)) for k in trained}
    v = {k: np.zeros_like(getattr(w, k)) for k in trained}
    b1, b2, eps = 0.9, 0.999, 1e-8
    t0 = time.perf_counter()
    total = settings.updates
    first = last = float("nan")
    done = 0
    for step in range(total):
        if time.perf_counter() - t0 > settings.minutes * 60.0:
            break
        pick = rng.integers(0, len(fr.rows), settings.batch)
        loss, _, g = loss_and_grads(w, gather(fr, pick, w.window), fr.Y[pick], fr.B[pick],
                                    projection=settings.tune_projection)
        if step == 0:
            first = loss
        last = loss
        lr = settings.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / total))) * min(1.0, (step + 1) / 20)
        for k in trained:
            p = getattr(w, k)
            gk = g[k] + settings.pull * (p - getattr(base, k))
            m[k] = b1 * m[k] + (1 - b1) * gk
            v[k] = b2 * v[k] + (1 - b2) * gk * gk
            mh = m[k] / (1 - b1 ** (step + 1))
            vh = v[k] / (1 - b2 ** (step + 1))
            p -= lr * mh / (np.sqrt(vh) + eps)
        done = step + 1
        if progress and (done % 10 == 0 or done == total):
            progress(done, total, loss, time.perf_counter() - t0)
    secs = time.perf_counter() - t0
    return w, {"updates": done, "seconds": secs, "ms_per_update": 1000 * secs / max(1, done),
               "loss_first": first, "loss_last": last, "frames": int(len(fr.rows))}


# ----------------------------------------------------------------------------- writing the model

def _quantize(a: np.ndarray) -> tuple[np.ndarray, np.float32]:
    """Symmetric per-tensor int8, zero point 0 (quantize_dynamic's QInt8 weights)."""
    scale = np.float32(max(float(np.abs(a).max()), 1e-8) / 127.0)
    return np.clip(np.round(a / scale), -127, 127).astype(np.int8), scale


def write_model(base_path: str | os.PathLike, w: Weights, out: str | os.PathLike, extra: dict) -> Path:
    """The shipped graph with w's weights, written atomically to out (never over base_path)."""
    import onnx
    from onnx import numpy_helper
    out = Path(out)
    if out.resolve() == Path(base_path).resolve():
        raise ValueError("a personal model is never written over the shipped one")
    m = onnx.load(str(base_path))
    new = {"bp": w.bp.astype(np.float32), "b1": w.b1.astype(np.float32), "b_out": w.b_out.astype(np.float32)}
    for name in ("wp", "w1", "w_out"):
        q, s = _quantize(getattr(w, name))
        new[f"{name}_quantized"], new[f"{name}_scale"] = q, np.array(s, np.float32)
    for i, init in enumerate(m.graph.initializer):
        if init.name in new:
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(new[init.name], init.name))
    meta = {p.key: p.value for p in m.metadata_props}
    spec = json.loads(meta.get("liveai_spec", "{}"))
    spec.update(extra)
    for p in m.metadata_props:
        if p.key == "liveai_spec":
            p.value = json.dumps(spec)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=str(out.parent))
    os.close(fd)
    try:
        onnx.save(m, tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
