"""Lean at rest: how long `liveai run` takes to be ready, and how much CPU it burns doing nothing.

    python -m liveai.box.lean [--idle 10] [--repeat 3] [-- RUN FLAGS...]

starts `python -m liveai run RUN FLAGS` (default: `--box --osc-port 0`), times it from the exec to
its "liveai: ready" line (interpreter start and imports included, unlike the figure the line
itself prints), then reads the process's CPU time (all threads, /proc/PID/stat utime+stime) over
--idle seconds of rest and prints it as a share of one core. Targets: ready <= 3 s, idle <= 2 %.

For latency_bench/ or a test: `measure(run_args, idle_s)` returns a dict with the same figures.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

READY = "liveai: ready"
DEFAULT_ARGS = ["--box", "--osc-port", "0"]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime: fields 14 and 15 of stat(5)


def measure(run_args: list[str] | None = None, idle_s: float = 10.0, timeout: float = 60.0,
            env: dict[str, str] | None = None) -> dict:
    """Start `liveai run run_args`, wait for ready, measure idle CPU, stop it with SIGTERM.
    Returns startup_s (exec to ready line), reported_ready_s (what the line says), idle_cpu_pct
    (of one core), threads, rss_mb, exit_code and the log lines."""
    args = [sys.executable, "-m", "liveai", "run", *(DEFAULT_ARGS if run_args is None else run_args)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    lines: list[str] = []
    ready = threading.Event()
    ready_at: list[float] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line.rstrip())
            if READY in line and not ready.is_set():
                ready_at.append(time.perf_counter())
                try:
                    ready_at.append(cpu_seconds(proc.pid))
                except OSError:
                    pass
                ready.set()
    threading.Thread(target=read, daemon=True).start()
    out = {"args": args[4:], "log": lines}
    try:
        deadline = time.perf_counter() + timeout
        while not ready.wait(0.05):
            if proc.poll() is not None or time.perf_counter() > deadline:
                time.sleep(0.2)  # the rest of its output
                why = f"exited with {proc.returncode}" if proc.poll() is not None else f"not ready in {timeout} s"
                raise RuntimeError(f"{why}: {' '.join(args)}\n" + "\n".join(lines[-20:]))
        out["startup_s"] = ready_at[0] - t0
        if len(ready_at) > 1:  # CPU seconds to ready: what start-up costs, however busy the machine
            out["startup_cpu_s"] = ready_at[1]
        line = next(l for l in lines if READY in l)
        try:
            out["reported_ready_s"] = float(line.split("ready in", 1)[1].split("s", 1)[0])
        except (IndexError, ValueError):
            pass
        time.sleep(min(2.0, idle_s))  # let start-up work (model warm-up, first polls) settle
        c0, w0 = cpu_seconds(proc.pid), time.perf_counter()
        time.sleep(idle_s)
        c1, w1 = cpu_seconds(proc.pid), time.perf_counter()
        out["idle_cpu_pct"] = 100.0 * (c1 - c0) / (w1 - w0)
        out["idle_window_s"] = w1 - w0
        status = Path(f"/proc/{proc.pid}/status").read_text()
        for key, name in (("Threads:", "threads"), ("VmRSS:", "rss_mb")):
            v = next((l.split()[1] for l in status.splitlines() if l.startswith(key)), None)
            if v is not None:
                out[name] = int(v) if name == "threads" else round(int(v) / 1024, 1)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        out["exit_code"] = proc.returncode
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    run_args = None
    if "--" in argv:
        i = argv.index("--")
        argv, run_args = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(prog="python -m liveai.box.lean", description=__doc__.split("\n\n")[0])
    ap.add_argument("--idle", type=float, default=10.0, help="seconds of rest to measure (default 10)")
    ap.add_argument("--repeat", type=int, default=3, help="start-ups to time (default 3)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    runs = [measure(run_args, args.idle) for _ in range(args.repeat)]
    starts = [r["startup_s"] for r in runs]
    idles = [r["idle_cpu_pct"] for r in runs]
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "log"} for r in runs], indent=1))
    print(f"liveai run {' '.join(runs[0]['args'])}")
    print(f"  start-up to ready (exec to 'ready' line): median {statistics.median(starts):.2f} s, "
          f"max {max(starts):.2f} s over {len(starts)} (target <= 3 s); CPU time to ready: median "
          f"{statistics.median(r.get('startup_cpu_s', float('nan')) for r in runs):.2f} s")
    print(f"  idle CPU over {args.idle:g} s: median {statistics.median(idles):.2f} %, max {max(idles):.2f} % "
          f"of one core (target <= 2 %); threads {runs[0].get('threads')}, RSS {runs[0].get('rss_mb')} MB")
    ok = max(starts) <= 3.0 and max(idles) <= 2.0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
