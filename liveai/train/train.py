"""Dataset building (transposition, encoding) and the training loop.

One cohesive module (over 400 lines on purpose): the sequences built here exist only for this loop
(their columns, the corruption of the model's own inputs, the batches and the chord targets are read
by the loss and the loops below), so the two change together.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from liveai.neural import runtime as rt
from liveai.corpus.pieces import Piece
from liveai.train.network import Accompanist

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
    chord: np.ndarray | None = None  # (T, 12) uint8: pitch classes sounding in the four parts
    coarse: np.ndarray | None = None  # (2, T, CHORD_DIM) uint8: half-bar and bar chord blocks


def chord_blocks(roll: np.ndarray, steps_per_bar: int, seg: int) -> np.ndarray:
    """(T, CHORD_DIM) chord blocks of a four-part roll: each segment of `seg` steps (aligned to the
    bar) labelled with the chord that best explains all four voices in it
    (liveai.harmony.chords.label_chord, the bass's lowest note as a hint). The voice heads learn to
    play *given* this chord, so at run time they follow the planned chord."""
    from liveai.harmony.chords import label_chord
    T = roll.shape[1]
    out = np.zeros((T, rt.CHORD_DIM), np.float32)
    prev = None
    for a in range(0, T, seg):
        b = min(T, a + seg)
        w = np.zeros(12)
        for i in range(roll.shape[0]):
            r = roll[i, a:b]
            s = r[r > 0]
            np.add.at(w, s % 12, 1.5 if i == 3 else 1.0)
        bass = roll[3, a:b]
        bass = bass[bass > 0]
        c = label_chord(w, int(bass.min()) % 12 if bass.size else None)
        blk = out[a:b]
        if c is None:
            blk[:, 37] = 1.0
            prev = None
            continue
        ch = (c.root, c.pcs, int(bass[0]) % 12 if bass.size and int(bass[0]) % 12 != c.root else None)
        one = np.zeros(rt.CHORD_DIM, np.float32)
        rt.encode_chord(ch, False, one)
        blk[:] = one
        if ch != prev:
            blk[0, 36] = 1.0
        prev = ch
    return out


def encode_piece(piece: Piece, shift: int = 0) -> Seq:
    roll = piece.roll.astype(np.int16)
    roll = np.where(roll > 0, roll + shift, 0)
    spb = piece.steps_per_bar
    four = roll.shape[0] == 4
    beat = chord_blocks(roll, spb, 4) if four else None  # chorales change chords on beats
    x = rt.encode_sequence(roll, piece.onset, spb, beat)
    y = rt.targets_sequence(roll, piece.onset)
    ch = chord_targets(roll).astype(np.uint8) if four else None
    coarse = None
    if four:
        half = spb // 2 if spb % 8 == 0 else spb
        coarse = np.stack([chord_blocks(roll, spb, half), chord_blocks(roll, spb, spb)]).astype(np.uint8)
    return Seq(x.astype(np.uint8), y.astype(np.int16), f"{piece.name}{shift:+d}", ch, coarse)


def build(pieces: list[Piece], all_keys: bool, desc: str) -> list[Seq]:
    out = []
    t0 = time.time()
    for i, p in enumerate(pieces):
        for s in transpositions(p, all_keys):
            out.append(encode_piece(p, s))
        if (i + 1) % 200 == 0:
            print(f"  encoding {desc}: {i + 1}/{len(pieces)} ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    return out


OWN_COLS = [slice(rt.BLOCK * i, rt.BLOCK * (i + 1)) for i in (1, 2, 3)]


def corrupt_own(X: np.ndarray, rng: np.random.Generator, p: float) -> None:
    """In place: in a random span of some sequences, make the accompaniment's own past wrong
    (transposed, or taken from another moment of the piece) while the targets stay Bach's. This
    teaches the model to follow the player when its own (free-running) choices went astray, as
    happens at run time, instead of trusting its own history."""
    B, T, _ = X.shape
    for b in range(B):
        if rng.random() >= p:
            continue
        L = int(rng.integers(4, T + 1))
        a = int(rng.integers(0, T - L + 1))
        if rng.random() < 0.5:
            sft = int(rng.integers(1, 12)) * (1 if rng.random() < 0.5 else -1)
            for c in OWN_COLS:
                blk = X[b, a:a + L, c]
                pitch = blk[:, 3:3 + rt.N_PITCH].copy()
                pcs = blk[:, 3 + rt.N_PITCH:].copy()
                blk[:, 3:3 + rt.N_PITCH] = np.roll(pitch, sft, axis=1)
                blk[:, 3 + rt.N_PITCH:] = np.roll(pcs, sft % 12, axis=1)
        else:
            d = int(rng.integers(1, 17)) * (1 if rng.random() < 0.5 else -1)
            src = np.clip(np.arange(a, a + L) + d, 0, T - 1)
            for c in OWN_COLS:
                X[b, a:a + L, c] = X[b, src, c]


def make_batch(seqs: list[Seq], idx, crop: int, rng: np.random.Generator, corrupt: float = 0.0):
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
        if s.coarse is not None:  # songs change chords on bars and half bars: learn to voice those too
            r = rng.random()
            if r < 0.5:
                X[b, :n, rt.CHORD_OFFSET:] = s.coarse[0 if r < 0.3 else 1, st:st + n]
    if corrupt > 0:
        corrupt_own(X, rng, corrupt)
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
          log=print, init: Accompanist | None = None, corrupt: float = 0.0, select=None,
          stage: str = "") -> tuple[Accompanist, list[dict]]:
    """Train (or fine-tune `init`). select(model) -> score (higher is better) picks the epoch kept;
    default: lowest teacher-forced val loss."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    model = init if init is not None else Accompanist(hidden, layers)
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
            X, Y = make_batch(allseqs, idx[b:b + batch], crop, rng, corrupt)
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
        score = select(model) if select is not None else -ev["accompaniment"]["loss"]
        rec = {"stage": stage, "epoch": ep + 1, "select_score": round(float(score), 4), "train_loss": tl / max(nb, 1), "val_loss": ev["accompaniment"]["loss"],
               "val_acc": ev["accompaniment"]["acc"], "val_melody_acc": ev.get("melody", {}).get("acc"),
               "elapsed_s": round(time.time() - t0, 1)}
        history.append(rec)
        log(f"epoch {ep + 1}/{epochs}: train {rec['train_loss']:.3f} val loss {rec['val_loss']:.3f} "
            f"acc {rec['val_acc']:.3f} melody acc {rec['val_melody_acc'] or 0:.3f} select {score:.4f} "
            f"({rec['elapsed_s']}s)")
        if -score < best:
            best = -score
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
        m.load_state_dict({k: torch.from_numpy(z[k]) for k in z.files if k != "__config__"}, strict=False)
    return m.eval()


def chord_targets(roll: np.ndarray) -> np.ndarray:
    """(T, 12) float: pitch classes sounding in any part at each step (all zero = no chord)."""
    T = roll.shape[1]
    y = np.zeros((T, 12), np.float32)
    for i in range(roll.shape[0]):
        s = roll[i] > 0
        y[np.nonzero(s)[0], roll[i][s] % 12] = 1.0
    return y


def train_chord_head(model: Accompanist, pieces_shifts: list[tuple], epochs: int = 30, batch: int = 32,
                     lr: float = 1e-2, seed: int = 0, threads: int = 1, log=print) -> list[dict]:
    """Fit the chord head (logistic regression) on the frozen network's hidden states, computed once
    over whole pieces from step 0, as at run time. pieces_shifts: (Seq, roll (4, T) transposed)."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    model.eval()
    t0 = time.time()
    order = sorted(range(len(pieces_shifts)), key=lambda i: pieces_shifts[i][0].x.shape[0])
    H, Yc = [], []
    for b in range(0, len(order), batch):
        items = [pieces_shifts[i] for i in order[b:b + batch]]
        T = max(s.x.shape[0] for s, _ in items)
        X = np.zeros((len(items), T, rt.FEATURE_DIM), np.float32)
        for j, (s, _) in enumerate(items):
            X[j, :s.x.shape[0]] = s.x
        with torch.no_grad():
            _, _, hid = model(torch.from_numpy(X), with_hidden=True)
        for j, (s, roll) in enumerate(items):
            L = s.x.shape[0]
            y = chord_targets(roll)
            keep = y.sum(1) > 0
            H.append(hid[j, :L].numpy()[keep])
            Yc.append(y[keep])
    Hx = torch.from_numpy(np.concatenate(H))
    Yx = torch.from_numpy(np.concatenate(Yc))
    log(f"chord head: {len(Hx)} steps of hidden states ({time.time() - t0:.0f}s)")
    opt = torch.optim.Adam(model.chord.parameters(), lr=lr)
    hist = []
    n = len(Hx)
    for ep in range(epochs):
        perm = torch.from_numpy(rng.permutation(n))
        tot, nb = 0.0, 0
        for b in range(0, n, 4096):
            idx = perm[b:b + 4096]
            loss = F.binary_cross_entropy_with_logits(model.chord(Hx[idx]), Yx[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item()
            nb += 1
        rec = {"stage": "chord", "epoch": ep + 1, "bce": round(tot / max(nb, 1), 4), "elapsed_s": round(time.time() - t0, 1)}
        hist.append(rec)
    log(f"chord head: bce {hist[-1]['bce']:.4f} after {epochs} epochs ({time.time() - t0:.0f}s)")
    model.eval()
    return hist


class Listener(torch.nn.Module):
    """Chord listener: a one-layer GRU that sees only the player (soprano block) and position, and
    predicts the pitch classes of the chord at step k. It cannot be led astray by the
    accompaniment's own free-running choices."""

    def __init__(self, hidden: int = 256):
        super().__init__()
        self.hidden = hidden
        self.gru = torch.nn.GRU(rt.FEATURE_DIM, hidden, 1, batch_first=True)
        self.out = torch.nn.Linear(hidden, 12)

    @staticmethod
    def mask_input(x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        x[..., rt.BLOCK:4 * rt.BLOCK] = 0.0
        x[..., rt.CHORD_OFFSET:] = 0.0  # it predicts the chord: it must not be told the plan
        return x

    def forward(self, x):
        y, _ = self.gru(self.mask_input(x))
        return self.out(y)


def train_listener(train_seqs: list[Seq], val_seqs: list[Seq], hidden: int, epochs: int, batch: int = 32,
                   crop: int = 128, lr: float = 3e-3, seed: int = 0, threads: int = 1, log=print):
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    lis = Listener(hidden)
    opt = torch.optim.AdamW(lis.parameters(), lr=lr, weight_decay=1e-4)
    seqs = [s for s in train_seqs if s.chord is not None]
    total = max(1, epochs * math.ceil(len(seqs) / batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.1)
    hist, t0, step = [], time.time(), 0
    for ep in range(epochs):
        lis.train()
        order = rng.permutation(len(seqs))
        tl, nb = 0.0, 0
        for b in range(0, len(order), batch):
            items = [seqs[i] for i in order[b:b + batch]]
            X = np.zeros((len(items), crop, rt.FEATURE_DIM), np.float32)
            Y = np.zeros((len(items), crop, 12), np.float32)
            M = np.zeros((len(items), crop), np.float32)
            for j, s in enumerate(items):
                T = s.x.shape[0]
                st = 0 if (T <= crop or rng.random() < 0.3) else int(rng.integers(0, T - crop + 1))
                n = min(crop, T - st)
                X[j, :n] = s.x[st:st + n]
                Y[j, :n] = s.chord[st:st + n]
                M[j, :n] = s.chord[st:st + n].sum(1) > 0
            z = lis(torch.from_numpy(X))
            l = F.binary_cross_entropy_with_logits(z, torch.from_numpy(Y), reduction="none").mean(-1)
            Mt = torch.from_numpy(M)
            loss = (l * Mt).sum() / Mt.sum().clamp(min=1)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(lis.parameters(), 1.0)
            opt.step()
            if step < total - 1:
                sched.step()
            step += 1
            tl += loss.item()
            nb += 1
        lis.eval()
        with torch.no_grad():
            vb = vn = 0.0
            for s in val_seqs:
                if s.chord is None:
                    continue
                z = lis(torch.from_numpy(s.x.astype(np.float32))[None])[0]
                y = torch.from_numpy(s.chord.astype(np.float32))
                m = y.sum(1) > 0
                vb += F.binary_cross_entropy_with_logits(z[m], y[m], reduction="sum").item() / 12
                vn += m.sum().item()
        rec = {"stage": "listener", "epoch": ep + 1, "train_bce": round(tl / max(nb, 1), 4),
               "val_bce": round(vb / max(vn, 1), 4), "elapsed_s": round(time.time() - t0, 1)}
        hist.append(rec)
        log(f"listener epoch {ep + 1}/{epochs}: train bce {rec['train_bce']:.4f} val bce {rec['val_bce']:.4f} "
            f"({rec['elapsed_s']}s)")
    lis.eval()
    return lis, hist


def save_listener(lis: Listener, path) -> None:
    arrs = {k: v.detach().cpu().numpy() for k, v in lis.state_dict().items()}
    arrs["__config__"] = np.array([lis.hidden])
    np.savez(path, **arrs)


def load_listener(path) -> Listener:
    with np.load(path, allow_pickle=False) as z:
        lis = Listener(int(z["__config__"][0]))
        lis.load_state_dict({k: torch.from_numpy(z[k]) for k in z.files if k != "__config__"})
    return lis.eval()
