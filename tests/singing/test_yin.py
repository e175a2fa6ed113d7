"""YIN: exact pitch on harmonic tones across the voice range (also at 48 kHz input decimated by 3),
no octave error on a tone whose 2nd harmonic dominates (a formant), noise reads as aperiodic."""
from __future__ import annotations

import numpy as np
import pytest

from liveai.singing.analysis import Decimator
from liveai.singing.yin import Yin


def tone(f: float, sr: int, n: int, amps=(1.0, 0.5, 0.33, 0.25, 0.2)) -> np.ndarray:
    t = np.arange(n) / sr
    return sum(a * np.sin(2 * np.pi * f * (h + 1) * t) for h, a in enumerate(amps))


@pytest.mark.parametrize("f", [70.0, 110.0, 196.0, 440.0, 880.0])
def test_pitch_within_5_cents(f):
    y = Yin(16000)
    f0, aper = y(tone(f, 16000, y.frame_len)[None])
    assert abs(1200 * np.log2(f0[0] / f)) < 5 and aper[0] < 0.1


def test_a_strong_second_harmonic_is_not_an_octave_up():
    y = Yin(16000)
    f0, _ = y(tone(150.0, 16000, y.frame_len, amps=(0.3, 1.0, 0.2))[None])
    assert abs(1200 * np.log2(f0[0] / 150.0)) < 10


def test_noise_is_aperiodic():
    y = Yin(16000)
    rng = np.random.default_rng(0)
    _, aper = y(rng.standard_normal((50, y.frame_len)))
    assert aper.min() > 0.4


def test_decimated_48k_keeps_the_pitch():
    x = tone(220.0, 48000, 48000)
    d = Decimator(3)
    y16 = np.concatenate([d(x[i:i + 32]) for i in range(0, len(x), 32)])  # JACK-sized blocks
    assert len(y16) == 16000
    y = Yin(16000)
    f0, _ = y(y16[-y.frame_len:][None])
    assert abs(1200 * np.log2(f0[0] / 220.0)) < 5
