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
        # r(tau) = sum_j x_j x_(j+tau) with j+tau < frame_len: a circular correlation of length
        # >= frame_len never wraps, so no more padding is needed
        self.nfft = 1 << int(np.ceil(np.log2(self.frame_len)))
        self._taus = np.arange(self.tau_max + 1, dtype=np.float64)
        self._cols = np.arange(self.tau_max - self.tau_min)[None, :]

    def __call__(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """frames: (n, frame_len). The newest W samples of each frame are the integration window
        (x[L-W:L]), compared with the W samples tau earlier: the estimate is as recent as it can be."""
        x = np.atleast_2d(np.asarray(frames, dtype=np.float64))[:, ::-1]  # reversed: lag goes forward
        w, tmax, lo = self.w, self.tau_max, self.tau_min
        fx = np.fft.rfft(x, self.nfft, axis=1)
        fh = np.fft.rfft(x[:, :w], self.nfft, axis=1)
        r = np.fft.irfft(fh.conj() * fx, self.nfft, axis=1)[:, :tmax + 1]  # r(tau) = sum x_j x_{j+tau}
        sq = np.cumsum(x * x, axis=1)
        e = sq[:, w - 1:w + tmax]  # e[tau] = energy of x[0 : tau + w]
        e0 = e[:, :1]
        et = e - np.concatenate([np.zeros((x.shape[0], 1)), sq[:, :tmax]], axis=1)  # x[tau : tau + w]
        d = e0 + et - 2 * r
        np.maximum(d, 0.0, out=d)
        d[:, 0] = 0.0
        cm = np.cumsum(d, axis=1)
        cm[:, 0] = 1.0
        dn = d * self._taus / np.maximum(cm, 1e-12)
        dn[:, 0] = 1.0
        seg = dn[:, lo:tmax]
        m = seg.min(axis=1, keepdims=True)
        # the first dip under it; with none under the absolute threshold, the global minimum
        thr = np.maximum(np.minimum(self.s.threshold, m + self.s.relative), m * (1 + 1e-9) + 1e-12)
        idx = (seg < thr).argmax(axis=1)
        # walk down from the first dip to its local minimum: the first lag at or after it where
        # the curve stops falling
        rows = np.arange(seg.shape[0])
        rising = np.empty(seg.shape, dtype=bool)
        np.greater_equal(seg[:, 1:], seg[:, :-1], out=rising[:, :-1])
        rising[:, -1] = True
        rising &= self._cols >= idx[:, None]
        tau = rising.argmax(axis=1) + lo
        # parabolic interpolation around the minimum
        a = dn[rows, tau - 1]
        b = dn[rows, tau]
        c = dn[rows, np.minimum(tau + 1, tmax)]
        den = a - 2 * b + c
        ok = np.abs(den) > 1e-12
        shift = np.clip(np.where(ok, 0.5 * (a - c) / np.where(ok, den, 1.0), 0.0), -1, 1)
        f0 = self.sr / (tau + shift)
        aper = np.clip(b, 0.0, 1.0)
        silent = e0[:, 0] < 1e-10
        return np.where(silent, 0.0, f0), np.where(silent, 1.0, aper)
