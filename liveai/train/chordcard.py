"""The chord model's card (models/chords.md): what it is, what it learnt from under which licences,
how it was split and trained, and its figures; written by `liveai train chords` after export."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from liveai.neural import chordmodel as cm
from liveai.corpus.realsongset import split_of


def data_counts(path: str | Path) -> dict[str, dict[str, int]]:
    """Songs per source and split (train, tune, val) of the derived set."""
    d = np.load(str(path), allow_pickle=False)
    out: dict[str, dict[str, int]] = {}
    for sid, sp in zip(d["song_id"], d["split"]):
        src = str(sid).split("/")[0]
        k = split_of(str(sid), str(sp))
        out.setdefault(src, {}).setdefault(k, 0)
        out[src][k] += 1
    return out


def _arch_text(net: dict) -> str:
    if net.get("arch") == "gru":
        return (f"{net['layers']}-layer GRU, hidden {net['hidden']}, written as MatMul/Add/Sigmoid/Tanh with "
                "the state in and out")
    return (f"window model: each frame projected to {net['proj']} numbers (ReLU), the last {net['window']} "
            f"frames ({net['window'] // 16} bars) kept as the state, read by one hidden layer of "
            f"{net['hidden']} (ReLU)")


def write_card(int8: Path, info: dict, counts: dict, command: str) -> Path:
    """models/chords.md: what the model is, what it learnt from (and under which licences), how
    it was split and trained, and its figures."""
    import hashlib
    from liveai.neural.chordmodel import benchmark_step
    from liveai.train.network import weight_bytes
    wb = weight_bytes(int8)
    sha = hashlib.sha256(int8.read_bytes()).hexdigest()
    cost = benchmark_step(int8)
    val = info["val"]
    rows = "\n".join(f"| {d[1:]} | {v['exact']:.3f} | {v['triad']:.3f} |" for d, v in val.items())
    src = "\n".join(f"| {s} | {c.get('train', 0)} | {c.get('tune', 0)} | {c.get('val', 0)} |"
                     for s, c in sorted(counts.items()))
    text = f"""# chords: the liveai streaming chord model

Reproduce: `{command}` (about {info['minutes']:.0f} minutes on 2 CPU cores; the data is in the
repository, nothing is downloaded). The planner uses it by default (`--chord-model none`: without it).

The network hears the player's melody one 16th-note frame at a time (pitch class, rest, onset, height,
position in the bar, and the chord the player holds, if any) and gives, after each frame, the
probability of every chord at that frame and at each of the next 16 frames, and the written bass
of each (slash chords). The planner (`liveai.harmony.planner`, `liveai.harmony.modelears`) sums
them over the steps a chord will be held to commit the chord a band would be right with most
often, and corrects it when a note just played makes another clearly likelier.

- File: `{int8.name}`, format `{cm.CHORD_MODEL_VERSION}`, {int8.stat().st_size} bytes, {100 * wb['int8_share']:.1f}% of weight bytes int8
- sha256: `{sha}`
- Architecture: {_arch_text(info['net'])}; linear heads for {cm.HORIZONS} horizons x {cm.N_CLASSES} chord classes and 12 bass intervals; onnxruntime quantize_dynamic (int8 weights)
- Vocabulary: 12 roots x {{{', '.join(cm.QUALITIES)}}} and no chord; richer labels folded (sus2 -> maj, dim7 -> dim, 6 -> maj, 9 -> 7, ...: `liveai/corpus/realsongset.py`)
- One step (onnxruntime, one thread, this machine while the card was written): p50 {cost['p50_ms']:.3f} ms, p99 {cost['p99_ms']:.3f} ms

## Data (data/realsongs.npz, see data/README.md)

| source | train | tune | val |
|---|---|---|---|
{src}

- POP909 (MIT; Wang et al., ISMIR 2020), songs 001-720 train, 721-800 validation; songs 801-909
  are held out for the project's acceptance and are not read by anything here.
- chord-melody-dataset (MIT; shiehn/chord-melody-dataset), one key of each song, a fifth of the
  songs validation (by a hash of the name).
- "tune": a tenth of the training songs (by a hash of the song) kept out of training, on which the
  planner's weights were chosen (`python -m liveai.evaluation.plansim --split tune`); the
  validation songs are only measured.
- The melody is heard relative to the key found in it so far (liveai.harmony.modelears.key_anchors),
  so one song teaches every key; on a fifth of the windows the true chords are given as the
  player's for stretches of bars.

## Training

{info['updates']} updates of {info.get('batch', 48)} windows of {info.get('crop', 128)} frames, Adam, cosine schedule, seed {info.get('seed', 1)};
the loss weighs the near horizons most (d <= 4: 1, d <= 8: 0.5, further: 0.25).

## Figures on the validation songs (teacher forced: the true melody, whole songs)

The chord at the frame d steps after the last one heard: the exact class, and its triad (what
`liveai evaluate`'s implied chord hears).

| d | exact | triad |
|---|---|---|
{rows}
"""
    path = int8.with_suffix(".md")
    path.write_text(text)
    return path
