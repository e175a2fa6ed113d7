"""`liveai show` on long takes: time and peak memory against the number of notes.

    python -m latency_bench.show [--notes 25000,100000]

Writes a take of N notes (a player's line and a band's four parts in 4/4 at 120 BPM; 100,000 notes is
about 52 minutes), runs the real `liveai show` on it in a child process, and prints the wall time and
the child's peak resident memory for each N, and the time ratio between the largest and the smallest
against the ratio of their sizes (linear: about the same; the old per-bar scan of every note made
it grow with the square). Issue 29's target: 100,000 notes under 10 s and 200 MB.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mido


def write_take(path: Path, notes: int, tpb: int = 480) -> Path:
    """A take of about `notes` notes: the player's 8ths and the band's chords, one a beat."""
    mf = mido.MidiFile(type=1, ticks_per_beat=tpb)
    head = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0)])
    mf.tracks.append(head)
    per_beat = 6  # two player 8ths and four band notes
    beats = max(1, notes // per_beat)
    prog = [(48, 52, 55, 60), (43, 47, 50, 55), (45, 48, 52, 57), (41, 45, 48, 53)]
    player, band = mido.MidiTrack(), mido.MidiTrack()
    player.append(mido.MetaMessage("track_name", name="player", time=0))
    band.append(mido.MetaMessage("track_name", name="comp", time=0))
    for b in range(beats):
        for i in range(2):
            p = 72 + (b * 2 + i) % 7
            player.append(mido.Message("note_on", note=p, velocity=80, time=0))
            player.append(mido.Message("note_off", note=p, velocity=0, time=tpb // 2))
        chord = prog[(b // 4) % 4]
        for p in chord:
            band.append(mido.Message("note_on", channel=1, note=p, velocity=70, time=0))
        for i, p in enumerate(chord):
            band.append(mido.Message("note_off", channel=1, note=p, velocity=0, time=tpb if i == 0 else 0))
    mf.tracks += [player, band]
    mf.save(str(path))
    return path


# `liveai show` run in the child with its own high-water mark read as it ends: ru_maxrss of a
# forked child counts the parent's image it was forked from (a test runner of 700 MB reads 725 MB)
_SHOW = """
import runpy, sys
sys.argv = ["liveai"] + sys.argv[1:]
try:
    runpy.run_module("liveai", run_name="__main__")
except SystemExit as e:
    code = e.code
else:
    code = 0
with open("/proc/self/status") as f:
    hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
print(f"VmHWM {hwm}", file=sys.stderr)
sys.exit(code)
"""


def measure(notes: int, workdir: Path) -> dict:
    """One `liveai show` run on a take of `notes` notes: its wall and CPU seconds (os.wait4) and its
    own peak resident memory (its VmHWM after exec, read by itself as it ends)."""
    take = write_take(workdir / f"take{notes}.mid", notes)
    svg = workdir / f"take{notes}.svg"
    err = workdir / f"show{notes}.err"
    t0 = time.perf_counter()
    with open(err, "w") as ferr:
        proc = subprocess.Popen([sys.executable, "-c", _SHOW, "show", str(take), "--out", str(svg)],
                                stdout=subprocess.DEVNULL, stderr=ferr)
        _, status, usage = os.wait4(proc.pid, 0)
    secs = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    said = err.read_text()
    if proc.returncode != 0:
        raise RuntimeError(said[-2000:])
    hwm_kb = int(said.rsplit("VmHWM ", 1)[1].split()[0])
    return {"notes": notes, "seconds": secs, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_mb": hwm_kb / 1024, "svg_mb": svg.stat().st_size / 1e6}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m latency_bench.show", description=__doc__.split("\n")[0])
    ap.add_argument("--notes", default="25000,100000")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    sizes = sorted(int(x) for x in a.notes.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(n, Path(tmp)) for n in sizes]
    out = {"rows": rows}
    if len(rows) > 1:
        out["time_ratio"] = rows[-1]["seconds"] / rows[0]["seconds"]
        out["size_ratio"] = rows[-1]["notes"] / rows[0]["notes"]
    if a.json:
        print(json.dumps(out))
    else:
        for r in rows:
            print(f"{r['notes']:>7} notes: {r['seconds']:.1f} s ({r['cpu_s']:.1f} s of CPU), peak {r['peak_mb']:.0f} MB, "
                  f"SVG {r['svg_mb']:.1f} MB")
        if len(rows) > 1:
            print(f"time x{out['time_ratio']:.1f} for x{out['size_ratio']:.0f} the notes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
