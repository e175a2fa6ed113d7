"""YIN pitch tracking (de Cheveigne & Kawahara 2002) in numpy, frame by frame.

Why YIN: it is cheap (one correlation per frame), has no model to load, and its aperiodicity (the
minimum of the cumulative mean normalised difference) is a voicing measure that breath and
whispering cannot fake. Steps: the difference function d(tau) through a direct correlation and
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
        self._taus = np.arange(self.tau_max + 1, dtype=np.float64)
        self._cs = np.zeros(self.frame_len + 1)  # running energy, reused every frame

    def __call__(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """frames: (n, frame_len). The newest W samples of each frame are the integration window
        (x[L-W:L]), compared with the W samples tau earlier: the estimate is as recent as it can be.
        Frame by frame: live analysis gets one or two frames per call, where the cost is the count
        of numpy calls, not their size (the batched FFT path took ~3x the CPU per frame)."""
        fr = np.atleast_2d(np.asarray(frames, dtype=np.float64))
        f0 = np.empty(len(fr))
        aper = np.empty(len(fr))
        for i, x in enumerate(fr):
            f0[i], aper[i] = self.frame(x)
        return f0, aper

    def frame(self, x: np.ndarray) -> tuple[float, float]:
        """(f0 Hz, aperiodicity) of one frame of frame_len samples (float64, oldest first)."""
        w, tmax, lo, L = self.w, self.tau_max, self.tau_min, self.frame_len
        cs = self._cs
        np.cumsum(x * x, out=cs[1:])  # cs[k] = energy of x[:k]
        e0 = float(cs[L] - cs[L - w])
        if e0 < 1e-10:
            return 0.0, 1.0
        # r(tau) = sum_{i in window} x[i] x[i - tau]; correlate's k-th value is lag tmax - k
        # (direct: 14 us here against ~50 for the FFT pair at these sizes)
        r = np.correlate(x, x[L - w:], "valid")[::-1]
        d = (cs[w:] - cs[:tmax + 1])[::-1]  # energy of the window tau earlier
        d += e0
        d -= 2.0 * r
        np.maximum(d, 0.0, out=d)
        d[0] = 0.0
        cm = np.cumsum(d)
        cm[0] = 1.0
        np.maximum(cm, 1e-12, out=cm)
        dn = d * self._taus
        dn /= cm
        dn[0] = 1.0
        seg = dn[lo:tmax]
        m = float(seg.min())
        # the first dip under it; with none under the absolute threshold, the global minimum
        thr = max(min(self.s.threshold, m + self.s.relative), m * (1 + 1e-9) + 1e-12)
        j = int((seg < thr).argmax())
        # walk down from the first dip to its local minimum (where the curve stops falling)
        n = len(seg)
        while j + 1 < n and seg[j + 1] < seg[j]:
            j += 1
        tau = j + lo
        # parabolic interpolation around the minimum
        a, b, c = float(dn[tau - 1]), float(dn[tau]), float(dn[min(tau + 1, tmax)])
        den = a - 2 * b + c
        shift = min(1.0, max(-1.0, 0.5 * (a - c) / den)) if abs(den) > 1e-12 else 0.0
        return self.sr / (tau + shift), min(1.0, max(0.0, b))
