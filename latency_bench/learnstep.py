"""What `liveai learn` costs: one fine-tuning update of the chord model, and the whole run's estimate.

    python -m latency_bench.learnstep [--updates N] [--songs N] [--pi-gflops G]

Times N updates of liveai.train.finetune on synthetic songs (the update's cost does not depend on
the music: a batch of 256 frames' windows, two matrix products forward and three back), and prints
the median and p99 per update, the arithmetic of one update (GFLOP), the throughput that makes here,
and what the default run (2000 updates) costs here and on a Raspberry Pi. The Pi figure is an
estimate, not a measurement: the update's GFLOP divided by --pi-gflops, an assumed sustained
float32 matrix-product rate of numpy's OpenBLAS on all four cores of a Pi 4 (default 8; state your
own). Needs the learn extra (onnx) to read the shipped model.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from latency_bench.common import pct


def update_gflop(w, batch: int) -> float:
    """Multiply-adds of one update x 2: the hidden layer and the heads, forward and back."""
    flat, hidden = w.w1.shape
    out = w.w_out.shape[1]
    macs = batch * (flat * hidden + hidden * out) + batch * (hidden * out) * 2 + batch * flat * hidden
    return 2 * macs / 1e9


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m latency_bench.learnstep", description=__doc__.split("\n")[0])
    ap.add_argument("--updates", type=int, default=200)
    ap.add_argument("--songs", type=int, default=20)
    ap.add_argument("--pi-gflops", dest="pi_gflops", type=float, default=8.0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    from liveai.neural.chordmodel import DEFAULT_CHORD_MODEL_PATH
    from liveai.train import finetune as ft
    from liveai.train.chorddata import Song
    rng = np.random.default_rng(0)
    base = ft.load_weights(DEFAULT_CHORD_MODEL_PATH)
    songs = []
    for i in range(a.songs):
        T = 16 * 32
        mel = rng.integers(60, 80, T)
        target = np.repeat(rng.integers(0, 108, T // 8), 8)
        songs.append(Song(f"s{i}", mel, (rng.random(T) < .4).astype(np.uint8), target, np.zeros(T, np.int64), 16))
    times: list[float] = []
    last = [time.perf_counter()]

    def tick(done, total, loss, secs):  # called every 10 updates
        now = time.perf_counter()
        times.append((now - last[0]) / 10 * 1000)
        last[0] = now
    settings = ft.FineTuneSettings(updates=a.updates, minutes=30.0)
    ft.fine_tune(base, songs, settings, tick)
    times = times[1:]  # the first ten include the warm-up
    g = update_gflop(base, settings.batch)
    med = pct(times, 50)
    r = {"ms_per_update_p50": med, "ms_per_update_p99": pct(times, 99), "gflop_per_update": g,
         "gflops_here": g / (med / 1000), "default_run_s_here": 2000 * med / 1000,
         "pi_ms_per_update_est": 1000 * g / a.pi_gflops, "pi_default_run_s_est": 2000 * g / a.pi_gflops,
         "pi_gflops_assumed": a.pi_gflops}
    if a.json:
        print(json.dumps(r))
    else:
        print(f"one update (batch {settings.batch}): p50 {med:.1f} ms, p99 {r['ms_per_update_p99']:.1f} ms here, "
              f"{g:.2f} GFLOP ({r['gflops_here']:.0f} GFLOP/s here)")
        print(f"default run (2000 updates): about {r['default_run_s_here']:.0f} s here; "
              f"Pi 4 estimate at {a.pi_gflops:g} GFLOP/s (assumed): {r['pi_ms_per_update_est']:.0f} ms an update, "
              f"{r['pi_default_run_s_est'] / 60:.1f} min (--updates 600: {600 * g / a.pi_gflops / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
