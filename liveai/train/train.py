"""Dataset building (transposition, encoding) and the training loop."""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from liveai import model as rt
from liveai.train.data import Piece
from liveai.train.model import Accompanist

# transposed pieces must keep every part inside these ranges (soprano, alto, tenor, bass)
TRAIN_RANGES = ((57, 86), (50, 79), (43, 72), (33, 67))
MELODY_RANGE = (55, 91)


def transpositions(piece: Piece, all_keys: bool) -> list[int]:
    """Semitone shifts to use: the original only, or one shift per key (up or down an octave
    fold, whichever keeps every part in range and moves least); keys that fit nowhere are skipped."""
    if not all_keys:
        return [0]
    rngs = TRAIN_RANGES if piece.roll.shape[0] == 4 else (MELODY_RANGE,)
    lo_hi = []
    for i in range(piece.roll.shape[0]):
        r = piece.roll[i]
        s = r[r > 0]
        lo_hi.append((int(s.min()), int(s.max())) if s.size else None)
    shifts = []
    for pc in range(12):
        best = None
        for t in (pc, pc - 12):
            ok = all(lh is None or (rngs[i][0] <= lh[0] + t and lh[1] + t <= rngs[i][1])
                     for i, lh in enumerate(lo_hi))
            if ok and (best is None or abs(t) < abs(best)):
                best = t
        if best is not None:
            shifts.append(best)
    return shifts


@dataclass
class Seq:
    x: np.ndarray  # (T, F) uint8
    y: np.ndarray  # (4, T) int16
    name: str


def encode_piece(piece: Piece, shift: int = 0) -> Seq:
    roll = piece.roll.astype(np.int16)
    roll = np.where(roll > 0, roll + shift, 0)
    x = rt.encode_sequence(roll, piece.onset, piece.steps_per_bar)
    y = rt.targets_sequence(roll, piece.onset)
    return Seq(x.astype(np.uint8), y.astype(np.int16), f"{piece.name}{shift:+d}")


def build(pieces: list[Piece], all_keys: bool, desc: str) -> list[Seq]:
    out = []
    t0 = time.time()
    for i, p in enumerate(pieces):
        for s in transpositions(p, all_keys):
            out.append(encode_piece(p, s))
        if (i + 1) % 200 == 0:
            print(f"  encoding {desc}: {i + 1}/{len(pieces)} ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    return out


def make_batch(seqs: list[Seq], idx, crop: int, rng: np.random.Generator):
    B = len(idx)
    X = np.zeros((B, crop, rt.FEATURE_DIM), np.float32)
    Y = np.full((B, 4, crop), -100, np.int64)
    for b, i in enumerate(idx):
        s = seqs[i]
        T = s.x.shape[0]
        if T <= crop or rng.random() < 0.3:
            st = 0  # starts of pieces are special (silence before, first chord)
        else:
            st = int(rng.integers(0, T - crop + 1))
        n = min(crop, T - st)
        X[b, :n] = s.x[st:st + n]
        Y[b, :, :n] = s.y[:, st:st + n]
    return torch.from_numpy(X), torch.from_numpy(Y)


HEAD_WEIGHTS = torch.tensor([1.0, 1.0, 1.0, 0.5])


def loss_fn(logits, Y, weights=HEAD_WEIGHTS):
    """logits (B, T, 4, V), Y (B, 4, T). Weighted sum of per-head mean CE."""
    tot = 0.0
    for h in range(4):
        yh = Y[:, h, :]
        if (yh >= 0).any():
            tot = tot + weights[h] * F.cross_entropy(logits[:, :, h, :].reshape(-1, rt.VOCAB),
                                                     yh.reshape(-1), ignore_index=-100)
    return tot


@torch.no_grad()
def evaluate_tf(model: Accompanist, seqs: list[Seq]) -> dict:
    """Teacher-forced loss and accuracy per head over whole sequences (from step 0)."""
    model.eval()
    nll = np.zeros(4)
    hit = np.zeros(4)
    cnt = np.zeros(4)
    for s in seqs:
        x = torch.from_numpy(s.x.astype(np.float32))[None]
        lg, _ = model(x)
        y = torch.from_numpy(s.y.astype(np.int64))
        for h in range(4):
            yh = y[h]
            m = yh >= 0
            if m.any():
                l = lg[0, :, h, :][m]
                nll[h] += F.cross_entropy(l, yh[m], reduction="sum").item()
                hit[h] += (l.argmax(-1) == yh[m]).sum().item()
                cnt[h] += m.sum().item()
    out = {}
    for h, name in enumerate(rt.HEADS):
        if cnt[h]:
            out[name] = {"loss": nll[h] / cnt[h], "acc": hit[h] / cnt[h], "steps": int(cnt[h])}
    acc3 = hit[:3].sum() / max(cnt[:3].sum(), 1)
    loss3 = nll[:3].sum() / max(cnt[:3].sum(), 1)
    out["accompaniment"] = {"loss": loss3, "acc": acc3}
    return out


def train(train_seqs: list[Seq], folk_seqs: list[Seq], val_seqs: list[Seq], *, hidden: int, layers: int,
          epochs: int, batch: int = 32, crop: int = 160, lr: float = 2e-3, seed: int = 0,
          folk_per_epoch: int | None = None, threads: int = 2, time_limit_s: float | None = None,
          log=print) -> tuple[Accompanist, list[dict]]:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    model = Accompanist(hidden, layers)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    n_folk = len(folk_seqs) if folk_per_epoch is None else min(folk_per_epoch, len(folk_seqs))
    per_epoch = math.ceil((len(train_seqs) + n_folk) / batch)
    total = max(1, epochs * per_epoch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.1)
    allseqs = train_seqs + folk_seqs
    best, best_state, history = float("inf"), None, []
    t0 = time.time()
    step = 0
    for ep in range(epochs):
        model.train()
        idx = list(rng.permutation(len(train_seqs)))
        if n_folk:
            idx += list(len(train_seqs) + rng.choice(len(folk_seqs), n_folk, replace=False))
        idx = np.array(idx)[rng.permutation(len(idx))]
        tl, nb = 0.0, 0
        for b in range(0, len(idx), batch):
            X, Y = make_batch(allseqs, idx[b:b + batch], crop, rng)
            lg, _ = model(X)
            loss = loss_fn(lg, Y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            if step < total - 1:
                sched.step()
            step += 1
            tl += loss.item()
            nb += 1
        ev = evaluate_tf(model, val_seqs)
        rec = {"epoch": ep + 1, "train_loss": tl / max(nb, 1), "val_loss": ev["accompaniment"]["loss"],
               "val_acc": ev["accompaniment"]["acc"], "val_melody_acc": ev.get("melody", {}).get("acc"),
               "elapsed_s": round(time.time() - t0, 1)}
        history.append(rec)
        log(f"epoch {ep + 1}/{epochs}: train {rec['train_loss']:.3f} val loss {rec['val_loss']:.3f} "
            f"acc {rec['val_acc']:.3f} melody acc {rec['val_melody_acc'] or 0:.3f} ({rec['elapsed_s']}s)")
        if rec["val_loss"] < best:
            best = rec["val_loss"]
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if time_limit_s is not None and time.time() - t0 > time_limit_s:
            log(f"time limit reached after epoch {ep + 1}")
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, history


def save_weights(model: Accompanist, path) -> None:
    """Weights as .npz (no pickle)."""
    arrs = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    arrs["__config__"] = np.array([model.hidden, model.layers])
    np.savez(path, **arrs)


def load_weights(path) -> Accompanist:
    with np.load(path, allow_pickle=False) as z:
        h, l = (int(v) for v in z["__config__"])
        m = Accompanist(h, l)
        m.load_state_dict({k: torch.from_numpy(z[k]) for k in z.files if k != "__config__"})
    return m.eval()
