"""The accompanist network (torch) and its streaming ONNX export.

Training uses torch's fused nn.GRU over whole sequences (fast). Export rebuilds the same GRU
equations as a one-step cell from plain MatMul/Add/Sigmoid/Tanh ops, with the state as an explicit
input and output, so that onnxruntime's quantize_dynamic turns every weight matrix into int8 (it
leaves the ONNX GRU operator fp32).
"""
from __future__ import annotations

import json

import torch
from torch import nn

from liveai.neural import runtime as rt


class Accompanist(nn.Module):
    def __init__(self, hidden: int = 256, layers: int = 2, dropout: float = 0.1):
        super().__init__()
        self.hidden, self.layers = hidden, layers
        self.gru = nn.GRU(rt.FEATURE_DIM, hidden, layers, batch_first=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, len(rt.HEADS) * rt.VOCAB)
        # chord head: P(pitch class is sounding in the full four-part texture at step k)
        self.chord = nn.Linear(hidden, 12)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None, with_hidden: bool = False):
        y, h = self.gru(x, h0)
        logits = self.head(self.drop(y))
        logits = logits.view(x.shape[0], x.shape[1], len(rt.HEADS), rt.VOCAB)
        if with_hidden:
            return logits, h, y
        return logits, h

    def config(self) -> dict:
        return {"hidden": self.hidden, "layers": self.layers}


class StepCell(nn.Module):
    """One step of `Accompanist` (and of the chord listener, whose state is the last row of the
    state) from explicit matrices (exported to ONNX)."""

    def __init__(self, m: Accompanist, listener=None):
        super().__init__()
        self.layers, self.hidden = m.layers, m.hidden
        H = m.hidden
        self.w_ih = nn.ParameterList()
        self.w_hh = nn.ParameterList()
        self.b_ih = nn.ParameterList()
        self.b_hh = nn.ParameterList()
        for l in range(m.layers):
            wi = getattr(m.gru, f"weight_ih_l{l}").detach()
            wh = getattr(m.gru, f"weight_hh_l{l}").detach()
            self.w_ih.append(nn.Parameter(wi.t().contiguous()))  # (in, 3H): x @ W
            self.w_hh.append(nn.Parameter(wh.t().contiguous()))
            self.b_ih.append(nn.Parameter(getattr(m.gru, f"bias_ih_l{l}").detach().clone()))
            self.b_hh.append(nn.Parameter(getattr(m.gru, f"bias_hh_l{l}").detach().clone()))
        self.w_out = nn.Parameter(m.head.weight.detach().t().contiguous())
        self.b_out = nn.Parameter(m.head.bias.detach().clone())
        self.listener = listener is not None
        src = listener.out if listener is not None else m.chord
        self.w_chord = nn.Parameter(src.weight.detach().t().contiguous())
        self.b_chord = nn.Parameter(src.bias.detach().clone())
        if listener is not None:
            assert listener.hidden == H
            wi = listener.gru.weight_ih_l0.detach().clone()
            wi[:, rt.BLOCK:4 * rt.BLOCK] = 0.0  # the listener never sees the accompaniment
            wi[:, rt.CHORD_OFFSET:] = 0.0  # nor the planned chord it helps to plan
            self.lw_ih = nn.Parameter(wi.t().contiguous())
            self.lw_hh = nn.Parameter(listener.gru.weight_hh_l0.detach().t().contiguous())
            self.lb_ih = nn.Parameter(listener.gru.bias_ih_l0.detach().clone())
            self.lb_hh = nn.Parameter(listener.gru.bias_hh_l0.detach().clone())
        self.H = H

    def _gru(self, x, h, w_ih, w_hh, b_ih, b_hh):
        H = self.H
        gi = torch.matmul(x, w_ih) + b_ih
        gh = torch.matmul(h, w_hh) + b_hh
        r = torch.sigmoid(gi[:, :H] + gh[:, :H])
        z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        return (1 - z) * n + z * h

    def forward(self, features: torch.Tensor, state: torch.Tensor):
        H = self.H
        x = features
        outs = []
        for l in range(self.layers):
            h = state[l]
            gi = torch.matmul(x, self.w_ih[l]) + self.b_ih[l]
            gh = torch.matmul(h, self.w_hh[l]) + self.b_hh[l]
            r = torch.sigmoid(gi[:, :H] + gh[:, :H])
            z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
            n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
            h = (1 - z) * n + z * h
            outs.append(h)
            x = h
        logits = (torch.matmul(x, self.w_out) + self.b_out).view(1, len(rt.HEADS), rt.VOCAB)
        if self.listener:
            hl = self._gru(features, state[self.layers], self.lw_ih, self.lw_hh, self.lb_ih, self.lb_hh)
            outs.append(hl)
            chord = torch.sigmoid(torch.matmul(hl, self.w_chord) + self.b_chord)
        else:
            chord = torch.sigmoid(torch.matmul(x, self.w_chord) + self.b_chord)
        return logits, torch.stack(outs, 0), chord


def spec_dict(m: Accompanist, **extra) -> dict:
    return {**extra, "pitch_lo": rt.PITCH_LO, "pitch_hi": rt.PITCH_HI, "feature_dim": rt.FEATURE_DIM,
            "vocab": rt.VOCAB, "heads": list(rt.HEADS), "hidden": m.hidden, "layers": m.layers,
            "ranges": rt.RANGES}


def export_onnx(m: Accompanist, path, opset: int = 17, listener=None, **extra) -> None:
    """Export the one-step cell with state in/out and the liveai metadata."""
    import onnx
    m = m.eval()
    cell = StepCell(m, listener).eval()
    f = torch.zeros(1, rt.FEATURE_DIM)
    s = torch.zeros(m.layers + (1 if listener is not None else 0), 1, m.hidden)
    with torch.no_grad():
        torch.onnx.export(cell, (f, s), str(path), input_names=["features", "state"],
                          output_names=["logits", "state_out", "chord"], opset_version=opset, dynamo=False)
    if listener is not None:
        extra["listener"] = "GRU(1 layer) on the player only; its state is the last row of state"
    add_metadata(path, spec_dict(m, **extra))


def add_metadata(path, spec: dict) -> None:
    import onnx
    mp = onnx.load(str(path))
    del mp.metadata_props[:]
    for k, v in (("liveai_version", rt.MODEL_VERSION), ("liveai_spec", json.dumps(spec))):
        e = mp.metadata_props.add()
        e.key, e.value = k, v
    mp.producer_name = "liveai.train"
    onnx.save(mp, str(path))


def quantize(src, dst, per_channel: bool = False) -> None:
    """Dynamic int8 quantization of every MatMul weight; keeps the liveai metadata."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    import onnx
    spec = {p.key: p.value for p in onnx.load(str(src)).metadata_props}
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel,
                     op_types_to_quantize=["MatMul"])
    add_metadata(dst, json.loads(spec["liveai_spec"]))


def weight_bytes(path) -> dict:
    """Bytes of initializers by data type, and the int8 share of all weight bytes."""
    import onnx
    from onnx import numpy_helper
    mp = onnx.load(str(path))
    by: dict[str, int] = {}
    for t in mp.graph.initializer:
        a = numpy_helper.to_array(t)
        name = str(a.dtype)
        by[name] = by.get(name, 0) + a.nbytes
    total = sum(by.values())
    int8 = by.get("int8", 0) + by.get("uint8", 0)
    return {"by_dtype": by, "total": total, "int8_share": int8 / total if total else 0.0}
