"""YIN pitch tracking (de Cheveigne & Kawahara 2002) in numpy, vectorised over frames.

Why YIN: it is cheap (one FFT pair per frame), has no model to load, and its aperiodicity (the
minimum of the cumulative mean normalised difference) is a voicing measure that breath and
whispering cannot fake. Steps: the difference function d(tau) through an FFT autocorrelation and
running energies, cumulative mean normalisation, the absolute threshold (first dip under it, walked
down to its local minimum, which avoids the sub-octave errors of a global minimum), and parabolic
interpolation of the period between lags.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class YinSettings:
    fmin: float = 65.0  # Hz: C2, a bass's low range
    fmax: float = 1050.0  # Hz: C6, a soprano's top
    window_s: float = 0.016  # integration window W
    threshold: float = 0.2  # absolute threshold on the normalised difference
    relative: float = 0.03  # ...lowered to (global minimum + this): a strong formant makes a dip at
    # half or a third of the period that passes 0.2 but is clearly worse than the true one


class Yin:
    """Pitch of frames: `frame_len` samples each, the newest W samples compared to lags up to
    1/fmin. Returns f0 in Hz and aperiodicity (0 = perfectly periodic, ~1 = noise)."""

    name = "yin"

    def __init__(self, sr: int, settings: YinSettings | None = None) -> None:
        self.sr = sr
        self.s = settings or YinSettings()
        self.tau_min = max(2, int(sr / self.s.fmax))
        self.tau_max = int(np.ceil(sr / self.s.fmin)) + 1
        self.w = int(round(self.s.window_s * sr))
        self.frame_len = self.w + self.tau_max
        self.nfft = 1 << int(np.ceil(np.log2(self.frame_len + self.w)))

    def __call__(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """frames: (n, frame_len). The newest W samples of each frame are the integration window
        (x[L-W:L]), compared with the W samples tau earlier: the estimate is as recent as it can be."""
        x = np.atleast_2d(np.asarray(frames, dtype=np.float64))[:, ::-1]  # reversed: lag goes forward
        w, tmax = self.w, self.tau_max
        head = x[:, :w]
        fx = np.fft.rfft(x, self.nfft, axis=1)
        fh = np.fft.rfft(head, self.nfft, axis=1)
        r = np.fft.irfft(np.conj(fh) * fx, self.nfft, axis=1)[:, :tmax + 1]  # r(tau) = sum x_j x_{j+tau}
        sq = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x * x, axis=1)], axis=1)
        taus = np.arange(tmax + 1)
        e0 = sq[:, w][:, None]
        et = sq[:, taus + w] - sq[:, taus]
        d = np.maximum(e0 + et - 2 * r, 0.0)
        cm = np.cumsum(d[:, 1:], axis=1)
        dn = np.ones_like(d)
        dn[:, 1:] = d[:, 1:] * taus[1:] / np.maximum(cm, 1e-12)
        lo = self.tau_min
        seg = dn[:, lo:tmax]
        thr = np.minimum(self.s.threshold, seg.min(axis=1, keepdims=True) + self.s.relative)
        below = seg < thr
        has = below.any(axis=1)
        idx = np.where(has, below.argmax(axis=1), seg.argmin(axis=1))
        # walk down from the first dip to its local minimum (vectorised, bounded)
        rows = np.arange(seg.shape[0])
        for _ in range(seg.shape[1]):
            nxt = np.minimum(idx + 1, seg.shape[1] - 1)
            step = (seg[rows, nxt] < seg[rows, idx]) & (nxt != idx)
            if not step.any():
                break
            idx = idx + step
        tau = idx + lo
        # parabolic interpolation around the minimum
        a = dn[rows, np.maximum(tau - 1, 1)]
        b = dn[rows, tau]
        c = dn[rows, np.minimum(tau + 1, tmax)]
        den = a - 2 * b + c
        shift = np.where(np.abs(den) > 1e-12, 0.5 * (a - c) / np.where(den == 0, 1, den), 0.0)
        shift = np.clip(shift, -1, 1)
        f0 = self.sr / (tau + shift)
        aper = np.clip(b, 0.0, 1.0)
        silent = e0[:, 0] < 1e-10
        return np.where(silent, 0.0, f0), np.where(silent, 1.0, aper)
