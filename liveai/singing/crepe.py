"""The neural pitch tracker: CREPE "tiny" in ONNX (exported by `liveai train crepe`; card in
models/crepe_tiny.md), on onnxruntime like the accompanist.

A frame is the newest 1024 samples at 16 kHz (64 ms), mean-removed and scaled to unit variance as
CREPE was trained; the pitch is the probability-weighted mean of the 9 bins around the peak (20
cents apart) and the aperiodicity the segmenter reads is 1 - the peak probability. The window is
4 times YIN's, so its estimate describes audio ~32 ms older than its newest sample: onsets are
moved back by that (`onset_lag_s`), but they are also seen that much later.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

CREPE_SR = 16000
WINDOW = 1024
CENTS = 20.0 * np.arange(360) + 1997.3794084376191  # bin -> cents above 10 Hz


def default_model() -> Path:
    here = Path(__file__).resolve().parents[2] / "models" / "crepe_tiny.onnx"
    if here.exists():
        return here
    import sys
    return Path(sys.prefix) / "share" / "liveai" / "models" / "crepe_tiny.onnx"


class CrepeTracker:
    name = "crepe"
    onset_lag_s = WINDOW / 2 / CREPE_SR

    def __init__(self, sr: int, model: str | None = None, threads: int = 1) -> None:
        import onnxruntime as ort
        path = Path(model) if model else default_model()
        if not path.exists():
            raise FileNotFoundError(f"no CREPE model at {path}: make it with `liveai train crepe` "
                                    "(needs the train extra) or use --voice-tracker yin")
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.sr = sr
        self.frame_len = int(np.ceil(WINDOW * sr / CREPE_SR))

    def __call__(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.atleast_2d(np.asarray(frames, dtype=np.float32))
        if self.sr != CREPE_SR:  # e.g. 44.1 kHz / 3: resample each frame to 1024 samples at 16 kHz
            src = np.arange(x.shape[1]) / self.sr
            dst = (np.arange(WINDOW) + (x.shape[1] / self.sr * CREPE_SR - WINDOW)) / CREPE_SR
            x = np.stack([np.interp(dst, src, r) for r in x]).astype(np.float32)
        x = x - x.mean(axis=1, keepdims=True)
        std = x.std(axis=1, keepdims=True)
        x = x / np.maximum(std, 1e-10)
        p = self.sess.run(None, {"frames": x})[0]
        peak = p.argmax(axis=1)
        idx = np.clip(peak[:, None] + np.arange(-4, 5)[None, :], 0, 359)
        w = np.take_along_axis(p, idx, axis=1)
        cents = (w * CENTS[idx]).sum(axis=1) / np.maximum(w.sum(axis=1), 1e-9)
        f0 = 10.0 * 2 ** (cents / 1200.0)
        conf = p.max(axis=1)
        silent = std[:, 0] < 1e-5
        return np.where(silent, 0.0, f0), np.where(silent, 1.0, 1.0 - conf)
