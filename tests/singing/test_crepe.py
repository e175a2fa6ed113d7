"""The CREPE tiny tracker on onnxruntime (models/crepe_tiny.onnx, made by `liveai train crepe`)."""
from __future__ import annotations

import numpy as np
import pytest

from liveai.singing.crepe import CrepeTracker, default_model


def test_crepe_tracks_a_sung_like_tone():
    if not default_model().exists():
        pytest.skip("models/crepe_tiny.onnx not built (liveai train crepe)")
    c = CrepeTracker(16000)
    t = np.arange(1024) / 16000
    for f in (110.0, 220.0, 440.0):
        x = sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, 6))
        f0, aper = c(x[None])
        assert abs(1200 * np.log2(f0[0] / f)) < 25 and aper[0] < 0.5


def test_a_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="liveai train crepe"):
        CrepeTracker(16000, str(tmp_path / "none.onnx"))
