"""Runtime of the neural accompanist: load the ONNX model, encode steps, sample actions.

One cohesive module (over 400 lines on purpose): the feature encoding, the model's input and output
layout and the decoding are one contract with the exported model (MODEL_VERSION); training imports
the same encoding from here, so keeping them in one file keeps them from drifting apart.

numpy + onnxruntime only (no torch, no pickle). The training code (liveai.train) imports the
feature encoding from here, so training and runtime see exactly the same inputs.

The model is a streaming network run once per 16th-note step. Inputs of step k:
  features [1, FEATURE_DIM] float32: the player's top note at step k-2 (the last step whose input is
    complete when step k is planned), the accompaniment's own committed actions at step k-1,
    position in the bar and meter;
  state [LAYERS, 1, HIDDEN] float32: the recurrent state after step k-1 (zeros at the start).
Outputs: logits [1, 4, VOCAB] (heads alto, tenor, bass at step k; melody = the player's next step
k-1, for call-and-response), state_out, and (optional) chord [1, 12]: the probability that each
pitch class sounds at step k in the full texture. The generator combines the voice heads with the
chord head (chord_weight) so that notes are chosen for being in the coming chord, not only for
being Bach's most likely exact note.

Tokens (per head): 0 = rest, 1 = hold (the sounding note goes on), 2 + (p - PITCH_LO) = a new note p.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

MODEL_VERSION = "liveai-accompanist/2"  # /2: the planned chord is an input


def _default_model_path() -> Path:
    """The built-in model: models/ beside the package in a checkout or editable install, else the
    copy a wheel installs under <prefix>/share/liveai/models (pyproject's data-files)."""
    import sys
    here = Path(__file__).resolve().parents[2] / "models" / "accompanist.onnx"
    if here.exists():
        return here
    for prefix in (sys.prefix, sys.base_prefix, "/usr/local", "/usr"):
        p = Path(prefix) / "share" / "liveai" / "models" / "accompanist.onnx"
        if p.exists():
            return p
    return here


DEFAULT_MODEL_PATH = _default_model_path()
MAX_MODEL_BYTES = 64 * 1024 * 1024

PITCH_LO, PITCH_HI = 28, 96  # inclusive
N_PITCH = PITCH_HI - PITCH_LO + 1
REST, HOLD = 0, 1
VOCAB = 2 + N_PITCH
PARTS = ("soprano", "alto", "tenor", "bass")  # input blocks: soprano = the player
HEADS = ("alto", "tenor", "bass", "melody")  # output heads
VOICES = ("bass", "tenor", "alto")  # the generator's voices (as the rules accompanist)

# note ranges enforced at sampling time (MIDI, inclusive)
RANGES = {"bass": (36, 62), "tenor": (47, 69), "alto": (53, 76), "melody": (55, 88)}

BLOCK = 3 + N_PITCH + 12  # rest/hold/onset, sounding pitch one-hot, pitch class one-hot
MAX_POS = 48
METERS = (8, 12, 16, 24, 32)  # steps per bar categories (+ "other")
N_SINCE = 8
# the planned chord at step k: its pitch classes, its root, its bass (inversions), "a new chord
# starts here", "no chord"
CHORD_DIM = 12 + 12 + 12 + 2
FEATURE_DIM = 4 * BLOCK + MAX_POS + len(METERS) + 1 + 4 + N_SINCE + CHORD_DIM
CHORD_OFFSET = FEATURE_DIM - CHORD_DIM

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10, 11)  # natural minor + leading tone


class ModelError(Exception):
    """The model file is missing, corrupt or does not match this code."""


# --------------------------------------------------------------------------- encoding

def fold_pitch(p: int, lo: int = PITCH_LO, hi: int = PITCH_HI) -> int:
    """Move p by octaves into [lo, hi]."""
    p = int(p)
    while p < lo:
        p += 12
    while p > hi:
        p -= 12
    return p


def pitch_token(p: int) -> int:
    return 2 + fold_pitch(p) - PITCH_LO


def token_pitch(tok: int) -> int | None:
    return PITCH_LO + int(tok) - 2 if tok >= 2 else None


def _since_bucket(d: int) -> int:
    if d < 0:
        return N_SINCE - 1
    if d <= 3:
        return d
    if d <= 5:
        return 4
    if d <= 7:
        return 5
    if d <= 11:
        return 6
    return 7


def _meter_index(spb: int) -> int:
    return METERS.index(spb) if spb in METERS else len(METERS)


def encode_chord(chord: tuple[int, Sequence[int], int | None] | None, new: bool, out: np.ndarray) -> None:
    """Write the chord block in place: chord = (root, pitch classes, bass pitch class or None)."""
    out[:] = 0.0
    if chord is None:
        out[37] = 1.0
        return
    root, pcs, bass = chord
    for pc in pcs:
        out[pc % 12] = 1.0
    out[12 + root % 12] = 1.0
    out[24 + (root if bass is None else bass) % 12] = 1.0
    out[36] = 1.0 if new else 0.0


def encode_step(step: int, steps_per_bar: int, parts: Sequence[tuple[int, int]], since_onset: int,
                out: np.ndarray | None = None,
                chord: tuple[int, Sequence[int], int | None] | None = None, chord_new: bool = False) -> np.ndarray:
    """Features of one step. parts: (kind, pitch) for soprano@k-2, alto, tenor, bass@k-1 with kind
    0 = rest, 1 = hold, 2 = onset and pitch the sounding MIDI pitch (ignored for rest).
    since_onset: steps from the player's last note start to step k-2 (-1 if none yet).
    chord: the planned chord of step k (root, pitch classes, bass), chord_new: it starts at k."""
    x = out if out is not None else np.zeros(FEATURE_DIM, np.float32)
    x[:] = 0.0
    for i, (kind, pitch) in enumerate(parts):
        b = i * BLOCK
        if kind == 0 or pitch is None or pitch <= 0:
            x[b] = 1.0
            continue
        p = fold_pitch(pitch)
        x[b + (2 if kind == 2 else 1)] = 1.0
        x[b + 3 + p - PITCH_LO] = 1.0
        x[b + 3 + N_PITCH + p % 12] = 1.0
    o = 4 * BLOCK
    x[o + min(step % steps_per_bar, MAX_POS - 1)] = 1.0
    o += MAX_POS
    x[o + _meter_index(steps_per_bar)] = 1.0
    o += len(METERS) + 1
    x[o + step % 4] = 1.0
    o += 4
    x[o + _since_bucket(since_onset)] = 1.0
    encode_chord(chord, chord_new, x[CHORD_OFFSET:])
    return x


def encode_sequence(roll: np.ndarray, onset: np.ndarray, steps_per_bar: int,
                    chords: np.ndarray | None = None) -> np.ndarray:
    """Vectorised encode_step over a whole piece (training). roll/onset: (4, T) in PARTS order
    (a 1-row roll = melody only: the accompaniment is silent). chords: (T, CHORD_DIM) chord blocks
    (None: "no chord" throughout). Returns (T, FEATURE_DIM) float32."""
    P, T = roll.shape
    if P < 4:
        roll = np.concatenate([roll, np.zeros((4 - P, T), roll.dtype)])
        onset = np.concatenate([onset, np.zeros((4 - P, T), bool)])
    x = np.zeros((T, FEATURE_DIM), np.float32)
    ks = np.arange(T)
    for i in range(4):
        lag = 2 if i == 0 else 1
        src = ks - lag
        valid = src >= 0
        p = np.where(valid, roll[i, np.maximum(src, 0)], 0).astype(np.int64)
        on = np.where(valid, onset[i, np.maximum(src, 0)], False)
        b = i * BLOCK
        sounding = p > 0
        pf = p.copy()
        pf[sounding] = np.array([fold_pitch(v) for v in pf[sounding]], np.int64) if sounding.any() else pf[sounding]
        x[~sounding, b] = 1.0
        x[sounding & on, b + 2] = 1.0
        x[sounding & ~on, b + 1] = 1.0
        idx = np.nonzero(sounding)[0]
        x[idx, b + 3 + pf[idx] - PITCH_LO] = 1.0
        x[idx, b + 3 + N_PITCH + pf[idx] % 12] = 1.0
    o = 4 * BLOCK
    x[ks, o + np.minimum(ks % steps_per_bar, MAX_POS - 1)] = 1.0
    o += MAX_POS
    x[:, o + _meter_index(steps_per_bar)] = 1.0
    o += len(METERS) + 1
    x[ks, o + ks % 4] = 1.0
    o += 4
    # steps since the soprano's last onset, seen at k-2
    last = -10**9
    since = np.empty(T, np.int64)
    son = onset[0] & (roll[0] > 0)
    for k in range(T):
        t = k - 2
        if t >= 0 and son[t]:
            last = t
        since[k] = (t - last) if (t >= 0 and last > -10**9) else -1
    x[ks, o + np.array([_since_bucket(int(d)) for d in since])] = 1.0
    if chords is None:
        x[:, CHORD_OFFSET + 37] = 1.0
    else:
        x[:, CHORD_OFFSET:] = chords
    return x


def targets_sequence(roll: np.ndarray, onset: np.ndarray) -> np.ndarray:
    """(4, T) int64 targets in HEADS order: alto, tenor, bass at step k; melody = soprano at k-1
    (-100 where undefined, ignored by the loss)."""
    P, T = roll.shape

    def toks(i):
        p = roll[i].astype(np.int64)
        t = np.where(p == 0, REST, np.where(onset[i], 0, HOLD))
        on = (p > 0) & onset[i]
        if on.any():
            t[on] = np.array([pitch_token(v) for v in p[on]], np.int64)
        return t

    y = np.full((4, T), -100, np.int64)
    if P >= 4:
        y[0], y[1], y[2] = toks(1), toks(2), toks(3)
    s = toks(0)
    y[3, 1:] = s[:-1]
    return y


# --------------------------------------------------------------------------- file checks + session

def check_model_file(path: str | os.PathLike) -> Path:
    """Check a model file before loading it: exists, sane size, looks like an ONNX protobuf."""
    p = Path(path)
    if not p.exists():
        raise ModelError(f"model file {p}: not found")
    if not p.is_file():
        raise ModelError(f"model file {p}: not a regular file")
    size = p.stat().st_size
    if size < 64:
        raise ModelError(f"model file {p}: too small ({size} bytes) to be an ONNX model (truncated?)")
    if size > MAX_MODEL_BYTES:
        raise ModelError(f"model file {p}: {size} bytes is over the {MAX_MODEL_BYTES} byte limit")
    with open(p, "rb") as f:
        head = f.read(2)
    # an ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08
    if head[:1] != b"\x08":
        raise ModelError(f"model file {p}: not an ONNX model (bad header bytes {head!r})")
    return p


def make_session(path: str | os.PathLike, threads: int = 1):
    """An onnxruntime session with low-latency settings: one intra/inter-op thread, no spinning
    (onnxruntime's session.intra_op.allow_spinning: spinning threads burn CPU a small box needs),
    full graph optimisation, warm-up runs (onnxruntime performance-tuning docs; `python -m liveai.neural.runtime` measures the step)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


@dataclass
class ModelSpec:
    hidden: int
    layers: int
    card: dict


class AccompanistModel:
    """A loaded, checked accompanist model: `step(features, state) -> (logits, state)`."""

    def __init__(self, path: str | os.PathLike | None = None, warmup: int = 20):
        self.path = check_model_file(path or DEFAULT_MODEL_PATH)
        try:
            self.session = make_session(self.path)
        except Exception as e:  # onnxruntime raises its own types for bad protobufs
            raise ModelError(f"model file {self.path}: cannot be loaded by onnxruntime "
                             f"(corrupt or truncated?): {str(e).splitlines()[0][:200]}") from None
        self.spec = self._validate()
        self.hidden, self.layers = self.spec.hidden, self.spec.layers
        self._outs = ("logits", "state_out", "chord") if self.has_chord else ("logits", "state_out")
        self.last_chord: np.ndarray | None = None
        self._feed = {"features": np.zeros((1, FEATURE_DIM), np.float32),
                      "state": self.initial_state()}
        for _ in range(warmup):
            self.session.run(None, self._feed)

    def _validate(self) -> ModelSpec:
        s, p = self.session, self.path
        meta = s.get_modelmeta().custom_metadata_map
        ver = meta.get("liveai_version")
        if ver != MODEL_VERSION:
            raise ModelError(f"model file {p}: version {ver!r}, this liveai expects {MODEL_VERSION!r}")
        ins = {i.name: i for i in s.get_inputs()}
        outs = {o.name: o for o in s.get_outputs()}
        if set(ins) != {"features", "state"}:
            raise ModelError(f"model file {p}: inputs {sorted(ins)}, expected ['features', 'state']")
        if not {"logits", "state_out"} <= set(outs):
            raise ModelError(f"model file {p}: outputs {sorted(outs)}, expected logits and state_out")
        self.has_chord = "chord" in outs
        if self.has_chord and (len(outs["chord"].shape) != 2 or outs["chord"].shape[1] != 12):
            raise ModelError(f"model file {p}: chord shape {outs['chord'].shape}, expected [1, 12]")
        fshape = ins["features"].shape
        if len(fshape) != 2 or fshape[1] != FEATURE_DIM:
            raise ModelError(f"model file {p}: features shape {fshape}, expected [1, {FEATURE_DIM}]")
        sshape = ins["state"].shape
        if len(sshape) != 3 or not all(isinstance(d, int) for d in (sshape[0], sshape[2])):
            raise ModelError(f"model file {p}: state shape {sshape}, expected [layers, 1, hidden]")
        lshape = outs["logits"].shape
        if len(lshape) != 3 or lshape[1] != len(HEADS) or lshape[2] != VOCAB:
            raise ModelError(f"model file {p}: logits shape {lshape}, expected [1, {len(HEADS)}, {VOCAB}]")
        try:
            card = json.loads(meta.get("liveai_spec", "{}"))
        except ValueError:
            raise ModelError(f"model file {p}: liveai_spec metadata is not JSON") from None
        for k, v in (("pitch_lo", PITCH_LO), ("pitch_hi", PITCH_HI), ("feature_dim", FEATURE_DIM),
                     ("vocab", VOCAB)):
            if card.get(k) != v:
                raise ModelError(f"model file {p}: {k} = {card.get(k)!r}, this liveai expects {v}")
        if tuple(card.get("heads", ())) != HEADS:
            raise ModelError(f"model file {p}: heads {card.get('heads')}, expected {list(HEADS)}")
        return ModelSpec(hidden=int(sshape[2]), layers=int(sshape[0]), card=card)

    def initial_state(self) -> np.ndarray:
        return np.zeros((self.spec.layers, 1, self.spec.hidden), np.float32)

    def step(self, features: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step: logits (4, VOCAB) float32 and the new state. If the model has a chord head,
        self.last_chord holds P(pitch class sounds at this step) (12,) afterwards."""
        feed = self._feed
        feed["features"] = features.reshape(1, FEATURE_DIM).astype(np.float32, copy=False)
        feed["state"] = state
        out = self.session.run(self._outs, feed)
        if self.has_chord:
            self.last_chord = out[2][0]
        return out[0][0], out[1]


# --------------------------------------------------------------------------- sampling

def scale_mask(tonic: int, minor: bool = False) -> np.ndarray:
    """Bool (VOCAB,) allowing rest, hold and notes whose pitch class is in the key."""
    pcs = {(tonic + d) % 12 for d in (MINOR if minor else MAJOR)}
    m = np.zeros(VOCAB, bool)
    m[REST] = m[HOLD] = True
    for tok in range(2, VOCAB):
        m[tok] = (PITCH_LO + tok - 2) % 12 in pcs
    return m


def range_mask(lo: int, hi: int) -> np.ndarray:
    m = np.zeros(VOCAB, bool)
    m[REST] = m[HOLD] = True
    m[2 + max(lo, PITCH_LO) - PITCH_LO: 2 + min(hi, PITCH_HI) - PITCH_LO + 1] = True
    return m


RANGE_MASKS = {k: range_mask(*v) for k, v in RANGES.items()}


def sample_token(logits: np.ndarray, rng: np.random.Generator, temperature: float = 1.0,
                 top_p: float = 1.0, mask: np.ndarray | None = None) -> int:
    """Sample one token: masked logits, temperature (<= 0: greedy), nucleus top_p.
    The draw is Generator.choice(VOCAB, p=...) written out (same cdf and one rng.random()), which
    gives the same tokens for the same seed at a fraction of choice()'s call overhead."""
    z = logits.astype(np.float64, copy=True)
    if mask is not None:
        z[~mask] = -np.inf
    if temperature <= 1e-6:
        return int(np.argmax(z))
    z /= temperature
    z -= z.max()
    pr = np.exp(z)
    pr /= pr.sum()
    if top_p < 1.0:
        order = np.argsort(-pr)
        cum = np.cumsum(pr[order])
        keep = order[: int(np.searchsorted(cum, top_p) + 1)]
        q = np.zeros_like(pr)
        q[keep] = pr[keep]
        pr = q / q.sum()
    cdf = pr.cumsum()
    cdf /= cdf[-1]
    return int(cdf.searchsorted(rng.random(), side="right"))


# --------------------------------------------------------------------------- benchmark

def benchmark_step(path: str | os.PathLike | None = None, n: int = 2000, threads: int = 1) -> dict:
    """Per-step inference time of a model file with the runtime's session settings (one thread).
    Returns p50/p99/mean in milliseconds, measured on n steps after warm-up."""
    m = AccompanistModel(path, warmup=50)
    if threads != 1:
        m.session = make_session(m.path, threads)
    rng = np.random.default_rng(0)
    state = m.initial_state()
    feats = np.zeros((64, FEATURE_DIM), np.float32)
    for i in range(64):
        parts = [(int(rng.integers(0, 3)), int(rng.integers(40, 80))) for _ in range(4)]
        encode_step(i, 16, parts, int(rng.integers(-1, 12)), feats[i])
    times = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        _, state = m.step(feats[i % 64], state)
        times[i] = time.perf_counter() - t0
    ms = times * 1e3
    return {"path": str(m.path), "n": n, "threads": threads, "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean()),
            "size_bytes": m.path.stat().st_size}


if __name__ == "__main__":  # python -m liveai.neural.runtime [PATH]: per-step latency, one thread
    import sys
    print(json.dumps(benchmark_step(sys.argv[1] if len(sys.argv) > 1 else None), indent=2))
