"""The streaming chord model (torch): training on real songs, int8 ONNX export.

A GRU hears the melody one 16th at a time (liveai.neural.chordmodel's features) and predicts the
chord at the frame just heard and at each of the next 16 frames, so the band can plan a segment
ahead and correct it once its melody is heard. Trained on the derived set of real songs
(data/realsongs.npz: POP909 001-720 and chord-melody-dataset's training songs; see data/README.md),
heard relative to the key found in the melody so far (so every key is the same to it). The chords a player strikes are an input too: on a share of
the training windows the true chord is given as "played" for stretches, so the model learns to
carry a struck progression forward.

Training uses torch's fused nn.GRU over windows; the export rebuilds one step from MatMul/Add/
Sigmoid/Tanh with the state as input and output, so quantize_dynamic makes every weight int8
(as liveai.train.network does for the accompanist).
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from liveai.neural import chordmodel as cm
from liveai.train.chorddata import IGNORE, Song, horizon_targets, make_batch, songs_from_npz  # noqa: F401


class ChordNet(nn.Module):
    """A GRU over the frames (the first design, kept for comparison: `--arch gru`)."""

    arch = "gru"

    def __init__(self, hidden: int = 128, layers: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        self.hidden, self.layers = hidden, layers
        self.gru = nn.GRU(cm.FEATURE_DIM, hidden, layers, batch_first=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.chord = nn.Linear(hidden, cm.HORIZONS * cm.N_CLASSES)
        self.bass = nn.Linear(hidden, cm.HORIZONS * 12)

    def state_shape(self) -> tuple[int, int, int]:
        return (self.layers, 1, self.hidden)

    def config(self) -> dict:
        return {"arch": "gru", "hidden": self.hidden, "layers": self.layers}

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        y, h = self.gru(x, h0)
        y = self.drop(y)
        B, T = x.shape[:2]
        return (self.chord(y).view(B, T, cm.HORIZONS, cm.N_CLASSES),
                self.bass(y).view(B, T, cm.HORIZONS, 12), h)


class ChordStep(nn.Module):
    """One step of ChordNet from explicit matrices (the exported graph)."""

    def __init__(self, m: ChordNet) -> None:
        super().__init__()
        self.layers, self.H = m.layers, m.hidden
        self.w_ih = nn.ParameterList()
        self.w_hh = nn.ParameterList()
        self.b_ih = nn.ParameterList()
        self.b_hh = nn.ParameterList()
        for layer in range(m.layers):
            self.w_ih.append(nn.Parameter(getattr(m.gru, f"weight_ih_l{layer}").detach().t().contiguous()))
            self.w_hh.append(nn.Parameter(getattr(m.gru, f"weight_hh_l{layer}").detach().t().contiguous()))
            self.b_ih.append(nn.Parameter(getattr(m.gru, f"bias_ih_l{layer}").detach().clone()))
            self.b_hh.append(nn.Parameter(getattr(m.gru, f"bias_hh_l{layer}").detach().clone()))
        w = torch.cat([m.chord.weight.detach(), m.bass.weight.detach()], 0)
        self.w_out = nn.Parameter(w.t().contiguous())
        self.b_out = nn.Parameter(torch.cat([m.chord.bias.detach(), m.bass.bias.detach()], 0))

    def forward(self, features: torch.Tensor, state: torch.Tensor):
        H = self.H
        x = features
        outs = []
        for layer in range(self.layers):
            h = state[layer]
            gi = torch.matmul(x, self.w_ih[layer]) + self.b_ih[layer]
            gh = torch.matmul(h, self.w_hh[layer]) + self.b_hh[layer]
            r = torch.sigmoid(gi[:, :H] + gh[:, :H])
            z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
            n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
            h = (1 - z) * n + z * h
            outs.append(h)
            x = h
        y = torch.matmul(x, self.w_out) + self.b_out
        nc = cm.HORIZONS * cm.N_CLASSES
        chord = y[:, :nc].reshape(1, cm.HORIZONS, cm.N_CLASSES)
        bass = y[:, nc:].reshape(1, cm.HORIZONS, 12)
        return chord, bass, torch.stack(outs, 0)


class WindowNet(nn.Module):
    """The melody of the last `window` frames, each squeezed to `proj` numbers, read at once by an
    MLP: the state carried between steps is that window (a shift register), so a step costs one
    small projection and two matrix products, and training sees every frame in parallel (no
    recurrence to unroll: on 2 CPU cores it learns in minutes what the GRU did not in half an hour)."""

    arch = "window"

    def __init__(self, window: int = 64, proj: int = 24, hidden: int = 384, dropout: float = 0.1) -> None:
        super().__init__()
        self.window, self.proj_dim, self.hidden_dim = window, proj, hidden
        self.proj = nn.Linear(cm.FEATURE_DIM, proj)
        self.body = nn.Linear(window * proj, hidden)
        self.drop = nn.Dropout(dropout)
        self.chord = nn.Linear(hidden, cm.HORIZONS * cm.N_CLASSES)
        self.bass = nn.Linear(hidden, cm.HORIZONS * 12)

    def state_shape(self) -> tuple[int, int, int]:
        return (self.window, 1, self.proj_dim)

    def config(self) -> dict:
        return {"arch": "window", "window": self.window, "proj": self.proj_dim, "hidden": self.hidden_dim}

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None, skip: int = 0):
        """skip: the first frames are only heard (history for the later frames' windows): no
        outputs for them, which halves a training update."""
        B, T = x.shape[:2]
        # an all-zero row is padding (a real frame always has its bar position): nothing heard yet,
        # as the zero state the runtime starts from
        p = torch.relu(self.proj(x)) * (x.abs().sum(-1, keepdim=True) > 0)  # [B, T, P]
        past = torch.zeros(B, self.window - 1, self.proj_dim) if h0 is None else h0[1:, 0][None].expand(B, -1, -1)
        seq = torch.cat([past, p], 1)  # [B, W-1+T, P]
        win = seq[:, skip:].unfold(1, self.window, 1)  # [B, T - skip, P, W]
        T -= skip
        flat = win.permute(0, 1, 3, 2).reshape(B, T, self.window * self.proj_dim)
        h = self.drop(torch.relu(self.body(flat)))
        return (self.chord(h).view(B, T, cm.HORIZONS, cm.N_CLASSES),
                self.bass(h).view(B, T, cm.HORIZONS, 12), seq[:, -self.window:])


class WindowStep(nn.Module):
    """One step of WindowNet (the exported graph): shift the window, read it."""

    def __init__(self, m: WindowNet) -> None:
        super().__init__()
        self.W, self.P = m.window, m.proj_dim
        self.wp = nn.Parameter(m.proj.weight.detach().t().contiguous())
        self.bp = nn.Parameter(m.proj.bias.detach().clone())
        self.w1 = nn.Parameter(m.body.weight.detach().t().contiguous())
        self.b1 = nn.Parameter(m.body.bias.detach().clone())
        w = torch.cat([m.chord.weight.detach(), m.bass.weight.detach()], 0)
        self.w_out = nn.Parameter(w.t().contiguous())
        self.b_out = nn.Parameter(torch.cat([m.chord.bias.detach(), m.bass.bias.detach()], 0))

    def forward(self, features: torch.Tensor, state: torch.Tensor):
        p = torch.relu(torch.matmul(features, self.wp) + self.bp)  # [1, P]
        window = torch.cat([state[1:], p[None]], 0)  # [W, 1, P]
        flat = window.reshape(1, self.W * self.P)
        h = torch.relu(torch.matmul(flat, self.w1) + self.b1)
        y = torch.matmul(h, self.w_out) + self.b_out
        nc = cm.HORIZONS * cm.N_CLASSES
        return (y[:, :nc].reshape(1, cm.HORIZONS, cm.N_CLASSES), y[:, nc:].reshape(1, cm.HORIZONS, 12),
                window)


def build_model(arch: str = "window", **cfg) -> nn.Module:
    """A fresh network of either design from its config (what save_weights stores)."""
    if arch == "gru":
        return ChordNet(**{k: cfg[k] for k in ("hidden", "layers") if k in cfg})
    if arch == "window":
        return WindowNet(**{k: cfg[k] for k in ("window", "proj", "hidden") if k in cfg})
    raise ValueError(f"unknown chord network {arch!r} (gru or window)")


def step_module(m: nn.Module) -> nn.Module:
    return ChordStep(m) if m.arch == "gru" else WindowStep(m)


# ----------------------------------------------------------------------------- training

# the near horizons (the chord being heard, and the next beat: what a correction and a commit
# need) weigh most; the far ones are a guess a bar ahead, shown, not played
HORIZON_WEIGHTS = torch.tensor([1.0 if d <= 4 else 0.5 if d <= 8 else 0.25 for d in range(cm.HORIZONS)])


def loss_fn(chord_logits, bass_logits, Y, B, bass_weight: float = 0.3):
    ce = nn.functional.cross_entropy
    lc = ce(chord_logits.reshape(-1, cm.N_CLASSES), Y.reshape(-1), ignore_index=IGNORE, reduction="none")
    w = HORIZON_WEIGHTS.to(lc.device).repeat(lc.numel() // cm.HORIZONS) * (Y.reshape(-1) != IGNORE)
    lc = (lc * w).sum() / w.sum().clamp(min=1.0)
    lb = ce(bass_logits.reshape(-1, 12), B.reshape(-1), ignore_index=IGNORE)
    return lc + bass_weight * lb, lc


@torch.no_grad()
def evaluate(model: nn.Module, songs: list[Song], horizons=(0, 2, 4, 8)) -> dict:
    """Teacher-forced accuracy on whole songs (no transposition): the class and its triad at a few
    horizons, on frames with a chord."""
    model.eval()
    hits = {d: [0, 0, 0] for d in horizons}
    for s in songs:
        x = torch.from_numpy(cm.encode_song(s.mel, s.onset, s.steps_per_bar, anchor=s.anchor))[None]
        logits, _, _ = model(x)
        pred = logits[0].argmax(-1).numpy()
        Y, _ = horizon_targets(s.target, s.bass, s.anchor)
        for d in horizons:
            m = Y[:, d] != IGNORE
            hits[d][0] += int((pred[m, d] == Y[m, d]).sum())
            hits[d][1] += int((cm.TRIAD_OF_CLASS[pred[m, d]] == cm.TRIAD_OF_CLASS[Y[m, d]]).sum())
            hits[d][2] += int(m.sum())
    model.train()
    return {f"d{d}": {"exact": h[0] / max(1, h[2]), "triad": h[1] / max(1, h[2])} for d, h in hits.items()}


def train(train_songs: list[Song], val_songs: list[Song], *, arch: str = "window", minutes: float = 20.0,
          batch: int = 32, crop: int = 256, lr: float = 2e-3, seed: int = 1, log=print,
          updates: int | None = None, **net) -> tuple[nn.Module, dict]:
    """Train for a wall-clock budget (a cosine schedule over the number of updates estimated after
    the first 20), or for exactly `updates` (the same schedule, fixed at the same point: a
    shipped model's run is reproduced update for update on any machine).
    net: the network's config (hidden, layers for gru; window, proj, hidden for window)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_model(arch, **net)
    history_frames = model.window - 1 if arch == "window" else 0
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    t0 = time.time()
    budget = minutes * 60.0 if updates is None else float("inf")
    # measure the cost of an update, then fix the schedule
    est_updates = None
    step = 0
    history = []
    while True:
        el = time.time() - t0
        if est_updates is None and step == 20:
            est_updates = updates if updates is not None else max(50, int(budget / (el / 20)))
            log(f"{est_updates} updates, about {est_updates * el / 20 / 60:.1f} min ({1000 * el / 20:.0f} ms each)")
        if est_updates is not None and (step >= est_updates or el > budget):
            break
        total = est_updates or 10 ** 6
        frac = min(1.0, step / total)
        for g in opt.param_groups:
            g["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac))) * min(1.0, (step + 1) / 100)
        X, Y, B = (torch.from_numpy(a) for a in make_batch(train_songs, rng, batch, crop, history=history_frames))
        if history_frames:
            c, b, _ = model(X, skip=history_frames)
            Y, B = Y[:, history_frames:], B[:, history_frames:]
        else:
            c, b, _ = model(X)
        loss, lc = loss_fn(c, b, Y, B)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 200 == 0:
            log(f"update {step}/{total}  loss {loss.item():.3f}  chord {lc.item():.3f}  {el / 60:.1f} min")
        if step % 1000 == 0 and val_songs:
            v = evaluate(model, val_songs[::4], horizons=(0, 4))
            log(f"  validation (a quarter of the songs): d0 triad {v['d0']['triad']:.3f}, d4 triad {v['d4']['triad']:.3f}")
            history.append((step, float(lc.item())))
    metrics = evaluate(model, val_songs)
    log(f"validation (teacher forced): {json.dumps(metrics)}")
    return model, {"updates": step, "minutes": (time.time() - t0) / 60.0, "val": metrics, "history": history}


# ----------------------------------------------------------------------------- export

def spec_dict(m: nn.Module, **extra) -> dict:
    layers, _, hidden = m.state_shape()
    return {**extra, **m.config(), "state_shape": list(m.state_shape()), "layers": layers, "state_width": hidden,
            "feature_dim": cm.FEATURE_DIM,
            "classes": cm.N_CLASSES, "horizons": cm.HORIZONS, "qualities": list(cm.QUALITIES)}


def add_metadata(path, spec: dict) -> None:
    import onnx
    mp = onnx.load(str(path))
    del mp.metadata_props[:]
    for k, v in (("liveai_version", cm.CHORD_MODEL_VERSION), ("liveai_spec", json.dumps(spec))):
        e = mp.metadata_props.add()
        e.key, e.value = k, v
    mp.producer_name = "liveai.train"
    onnx.save(mp, str(path))


def export(m: nn.Module, out_prefix: str | Path, **extra) -> Path:
    """Write OUT.fp32.onnx and the int8 OUT.onnx (the one liveai loads); returns the int8 path."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    fp32 = out_prefix.with_suffix(".fp32.onnx")
    int8 = out_prefix.with_suffix(".onnx")
    step = step_module(m.eval()).eval()
    f = torch.zeros(1, cm.FEATURE_DIM)
    s = torch.zeros(*m.state_shape())
    with torch.no_grad():
        torch.onnx.export(step, (f, s), str(fp32), input_names=["features", "state"],
                          output_names=["chord", "bass", "state_out"], opset_version=17, dynamo=False)
    spec = spec_dict(m, **extra)
    add_metadata(fp32, spec)
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
    add_metadata(int8, spec)
    return int8


def save_weights(m: nn.Module, path) -> None:
    torch.save({"config": m.config(), "state": m.state_dict()}, str(path))


def load_weights(path) -> nn.Module:
    d = torch.load(str(path), map_location="cpu", weights_only=True)
    m = build_model(**d["config"])
    m.load_state_dict(d["state"])
    return m


def main(argv: list[str] | None = None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="liveai train chords", description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "data" / "realsongs.npz"))
    ap.add_argument("--out", default="models/chords")
    ap.add_argument("--minutes", type=float, default=20.0, help="wall-clock budget (unless --updates)")
    ap.add_argument("--updates", type=int, default=None,
                    help="train exactly this many updates (the shipped model: see models/chords.md)")
    ap.add_argument("--arch", choices=["window", "gru"], default="window")
    ap.add_argument("--hidden", type=int, default=None, help="hidden units (default: window 384, gru 128)")
    ap.add_argument("--layers", type=int, default=2, help="gru layers")
    ap.add_argument("--window", type=int, default=64, help="frames the window model hears")
    ap.add_argument("--proj", type=int, default=24, help="numbers per frame in the window")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--crop", type=int, default=64, help="scored frames per training window")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    tr = songs_from_npz(a.data, "train")
    va = songs_from_npz(a.data, "val")
    print(f"{len(tr)} training songs, {len(va)} validation songs", file=sys.stderr)
    net = ({"hidden": a.hidden or 128, "layers": a.layers} if a.arch == "gru" else
           {"window": a.window, "proj": a.proj, "hidden": a.hidden or 384})
    model, info = train(tr, va, arch=a.arch, **net, minutes=a.minutes, updates=a.updates, seed=a.seed,
                        lr=a.lr, batch=a.batch, crop=a.crop,
                        log=lambda s: print(s, file=sys.stderr, flush=True))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_weights(model, out.with_suffix(".pt"))
    path = export(model, out, train_songs=len(tr), val_songs=len(va), updates=info["updates"],
                  minutes=round(info["minutes"], 1), seed=a.seed, val=info["val"])
    info.update(net=model.config(), seed=a.seed, batch=a.batch, crop=a.crop)
    cmd = "liveai train chords" + "".join(f" {x}" for x in (argv if argv is not None else sys.argv[1:]))
    from liveai.train.chordcard import data_counts, write_card
    card = write_card(path, info, data_counts(a.data), cmd)
    print(f"wrote {path} and {card}", file=sys.stderr)
    print(json.dumps({"model": str(path), **{k: v for k, v in info.items() if k != "history"}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
