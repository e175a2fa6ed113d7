"""Issue 12 item 2, the in-process half of the signal property test: run the live engine (no MIDI,
OSC notes to a UDP socket of ours) again and again, and send SIGINT/SIGTERM to the main thread at
random moments of start, play and stop, one or two at a time, back to back or apart. Every run
must stop within HANG_S of its first signal, and every note the engine sent over OSC must be closed.

    python -m tests.signal_runs RUNS SEED     (prints one line per run; exit 0 only when all pass)
"""
from __future__ import annotations

import faulthandler
import os
import random
import signal
import socket
import sys
import threading
import time

from pythonosc.osc_message import OscMessage

from liveai.app.run import Stop, run_realtime
from liveai.control.config import make_config
from liveai.music.tunes import ODE_TO_JOY, tune_events

HANG_S = 8.0


def notes_listener(sock: socket.socket, got: list) -> None:
    sock.settimeout(0.2)
    while True:
        try:
            data = sock.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            return
        if data == b"quit":
            return
        try:
            m = OscMessage(data)
        except Exception:
            continue
        if m.address.endswith("/note"):
            got.append((m.address, int(m.params[0]), int(m.params[1])))


def open_notes(got: list) -> dict:
    count: dict = {}
    for addr, pitch, vel in got:
        k = (addr, pitch)
        count[k] = count.get(k, 0) + (1 if vel else -1)
        count[k] = max(count[k], 0)  # a note-off for nothing sounding is harmless
    return {k: n for k, n in count.items() if n}


def one_run(i: int, rng: random.Random) -> str:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    got: list = []
    lt = threading.Thread(target=notes_listener, args=(sock, got), daemon=True)
    lt.start()
    cfg = make_config(None, dict(generator="rules", start_now=True, osc_port=0, oscquery_port=-1,
                                 osc_out=[f"127.0.0.1:{sock.getsockname()[1]}"], tempo=300.0,
                                 realtime=False, idle_bars=0.0))
    n = rng.choice([1, 2, 2, 2])
    first = rng.choice([rng.uniform(0.0, 0.05), rng.uniform(0.05, 0.8)])  # start or play
    gaps = [rng.choice([0.0, rng.uniform(0.0, 0.003), rng.uniform(0.0, 0.3)]) for _ in range(n - 1)]
    sigs = [rng.choice([signal.SIGINT, signal.SIGTERM]) for _ in range(n)]
    main = threading.main_thread().ident
    fired = []

    def fire() -> None:
        time.sleep(first)
        for k in range(n):
            if k:
                time.sleep(gaps[k - 1])  # 0: back to back, the case that hung
            fired.append(time.perf_counter())
            signal.pthread_kill(main, sigs[k])

    def watchdog() -> None:
        while not done.wait(0.1):
            if fired and time.perf_counter() - fired[0] > HANG_S:
                print(f"run {i}: HANG ({n} signals, first after {first:.3f} s, gaps {gaps})", flush=True)
                faulthandler.dump_traceback(all_threads=True)
                os._exit(3)

    done = threading.Event()
    stop = Stop()
    stop.install()
    ft = threading.Thread(target=fire, daemon=True)
    wd = threading.Thread(target=watchdog, daemon=True)
    wd.start()
    ft.start()
    events = tune_events(ODE_TO_JOY.notes() * 4, 300.0)  # the player: about 3 minutes of it
    session = run_realtime(cfg, None, None, events=events, stop=stop)
    stopped = time.perf_counter()
    ft.join()
    done.set()
    time.sleep(0.05)  # the last datagrams
    sock.sendto(b"quit", sock.getsockname())
    lt.join(2)
    sock.close()
    left = open_notes(got)
    sounding = session.scheduler.tracker.sounding()
    ons = sum(1 for _, _, v in got if v)
    status = "ok" if not left and not sounding else f"FAIL open notes {left} tracker {sounding}"
    return (f"run {i}: {status}: {n} signal(s), first at {first:.3f} s, gaps {[round(g, 4) for g in gaps]}, "
            f"{ons} notes, stopped {stopped - fired[0]:+.3f} s after the first signal")


def main(argv: list[str]) -> int:
    runs, seed = int(argv[0]), int(argv[1])
    rng = random.Random(seed)
    bad = 0
    for i in range(runs):
        line = one_run(i, rng)
        print(line, flush=True)
        bad += "FAIL" in line
    print(f"{runs - bad}/{runs} runs clean", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
