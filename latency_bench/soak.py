"""latency_bench.soak: load and soak (issue 8 part 4).

    python -m latency_bench.soak [--quick] [--json FILE] [--only load,sim,soak] [--generator model|rules]

Three parts, in this order:

  sim   one simulated hour: the engine on liveai.timing.clock.SimClock (app.build_session, as
        `liveai demo --fast` runs it) with the player looping the built-in tune (Ode to Joy) for
        3600 simulated seconds (--quick: 600). tracemalloc and RSS growth from minute 5 to the end,
        and grid drift: every engine note-on against the 16th grid anchored at the first one (max
        deviation), hanging notes after the end. The sink is drained every 10 simulated seconds into
        running aggregates, so the measurement holds nothing that grows with the run.
  load  the real engine over a private JACK server (latency_bench's JackServer, JackRig and
        engine_proc): the rig plays the looped tune; an idle window (playing, no load: 30 s, quick
        10 s), then 60 s (quick 15 s) of 10,000 OSC messages a second (/liveai/status and
        /liveai/get/tempo, from four senders in two processes) and 1,000 MIDI notes a second (note-on
        + note-off 0.5 ms later) into the engine's MIDI input from the rig. The engine's note-ons as
        the rig hears them against the 16th grid (as latency_bench's jack_jitter_*): p50/p99 idle vs
        load and the ratio. OscServer limits itself to 5,000 messages a second (2,500 per sender):
        what it processed, what its limiter dropped and what the kernel lost are reported.
  soak  the real engine over JACK, a fresh process, playing along with the looped tune for 600 s
        (quick 60 s): RSS (engine + sender process) every 10 s, growth after the first minute; drift:
        the mean offset of its notes against the grid (anchored at its first note) in the first
        minute vs the last minute; hanging notes at the end.

Exit status 0 when every target passes: load jitter p99 <= 1.5 x idle p99; memory growth <= 5 MB
(sim: tracemalloc, soak: RSS); no drift (sim: max grid deviation < 1 us; soak: first-vs-last-minute
mean offset within 0.5 ms); no hanging notes.

One cohesive module (over 400 lines on purpose): one measurement, whose three parts share the rig,
the tune, the grid and hang checks, and one report (checks, table); it runs as one command.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from latency_bench.common import (REPO, JackServer, free_udp_port, normal_priority, pct, rss_mb)

BPM = 120.0
STEP = 60.0 / BPM / 4
PLAYER_CH = 0
OSC_RATE = 10_000  # messages a second, in all
MIDI_RATE = 1_000  # notes a second
MB = 1024 * 1024

FLOOD = r"""
import socket, sys, time
from pythonosc.osc_message_builder import OscMessageBuilder
port, rate, dur, nsock = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
msgs = [OscMessageBuilder(address=a).build().dgram for a in ("/liveai/status", "/liveai/get/tempo")]
socks = []
for _ in range(nsock):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setblocking(False); s.bind(("127.0.0.1", 0)); socks.append(s)
t0 = time.perf_counter(); n = 0; replies = 0; full = 0
while True:
    now = time.perf_counter()
    if now - t0 >= dur: break
    due = int((now - t0) * rate)
    while n < due:
        try: socks[n % nsock].sendto(msgs[(n // nsock) & 1], ("127.0.0.1", port))
        except BlockingIOError: full += 1
        n += 1
    for s in socks:
        while True:
            try: s.recv(65536); replies += 1
            except BlockingIOError: break
    time.sleep(0.002)
print(n, time.perf_counter() - t0, replies, full, flush=True)
"""


def machine() -> str:
    return (f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, {platform.platform(terse=True)}, "
            f"Python {platform.python_version()}")


def loadavg() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def grid_dev(t: float, anchor: float) -> float:
    x = t - anchor
    return x - round(x / STEP) * STEP


def tune_loop():
    """The built-in tune (Ode to Joy) at 120 BPM: (events from the loop's start, loop length in s)."""
    from liveai.music.tunes import ODE_TO_JOY, tune_events
    steps = ODE_TO_JOY.total_steps
    steps = -(-steps // 16) * 16  # whole bars
    return tune_events(ODE_TO_JOY.notes(), BPM, PLAYER_CH), steps * STEP


def own_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# --------------------------------------------------------------------------- (2) one simulated hour

def sim_soak(seconds: float = 3600.0, generator: str = "model", mark_s: float = 300.0, trace: bool = True) -> dict:
    """The engine on SimClock for `seconds` of simulated time with the player looping the tune.
    Memory (tracemalloc, RSS) at mark_s and at the end; grid deviation of every engine note-on;
    notes still sounding after the end."""
    import tracemalloc

    from liveai.app.run import build_session
    from liveai.timing.clock import SimClock
    from liveai.control.config import Config

    cfg = Config(generator=generator, tempo=BPM, idle_bars=0)
    clock = SimClock()
    session = build_session(cfg, clock, clock, [], record=False)
    sink = session.sink
    assert sink is not None
    events, loop_s = tune_loop()
    start = 1.0
    eng = session.engine
    st = {"anchor": None, "max_dev": 0.0, "on": 0, "off": 0, "sounding": {}, "parts": {}}

    def drain() -> None:
        evs, sink.events = sink.events, []
        for t, ev in evs:
            if ev.channel == PLAYER_CH:
                continue
            k = (ev.channel, ev.data1)
            if ev.kind == "on":
                st["on"] += 1
                st["parts"][ev.part] = st["parts"].get(ev.part, 0) + 1
                if st["anchor"] is None:
                    st["anchor"] = t
                st["max_dev"] = max(st["max_dev"], abs(grid_dev(t, st["anchor"])))
                st["sounding"][k] = st["sounding"].get(k, 0) + 1
            elif ev.kind == "off":
                st["off"] += 1
                st["sounding"][k] = st["sounding"].get(k, 0) - 1

    def schedule_loop(t0: float) -> None:
        if t0 >= start + seconds:
            return
        for t, msg in events:
            if t0 + t < start + seconds:
                clock.call_at(t0 + t, lambda m=msg: eng.post_input(m, clock.now()))
        clock.call_at(t0 + loop_s - 1.0, schedule_loop, t0 + loop_s)  # the next loop, a second ahead

    def every_10s() -> None:
        drain()
        if clock.now() < start + seconds:
            clock.call_later(10.0, every_10s)

    mem: dict = {}

    def mark(label: str) -> None:
        drain()
        gc.collect()
        mem[f"{label}_rss_mb"] = own_rss_mb()
        if trace:
            mem[f"{label}_traced_mb"] = tracemalloc.get_traced_memory()[0] / MB
        mem[f"{label}_wall_s"] = time.perf_counter() - w0

    end = start + seconds
    if trace:
        tracemalloc.start()
    w0 = time.perf_counter()
    schedule_loop(start)
    clock.call_at(start + 10.0, every_10s)
    clock.call_at(start + mark_s, mark, "mark")
    clock.call_at(end, mark, "end")
    clock.call_at(end + 0.001, eng.stop_transport)
    clock.call_at(end + 4.0, clock.stop)
    clock.run()
    eng.shutdown()
    drain()
    wall = time.perf_counter() - w0
    if trace:
        mem["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / MB
        tracemalloc.stop()
    s = eng.stats
    hanging = sorted(k for k, n in st["sounding"].items() if n > 0)
    return {
        "sim_seconds": seconds, "sim_generator": eng.primary.name, "sim_wall_s": wall,
        "sim_steps": s.steps, "sim_primary_steps": s.primary_steps, "sim_fallback_steps": s.fallback_steps,
        "sim_errors": s.errors, "sim_notes": st["on"], "sim_parts": st["parts"],
        "sim_max_grid_dev_us": st["max_dev"] * 1e6, "sim_hanging_notes": len(hanging),
        "sim_mark_s": mark_s, **{f"sim_{k}": v for k, v in mem.items()},
        "sim_traced_growth_mb": mem.get("end_traced_mb", float("nan")) - mem.get("mark_traced_mb", float("nan")),
        "sim_rss_growth_mb": mem["end_rss_mb"] - mem["mark_rss_mb"],
    }


# --------------------------------------------------------------------------- the engine over JACK

def engine_main(argv: list[str]) -> int:
    """In the engine's process: latency_bench.engine_proc, plus the OSC server's counters on exit."""
    osc_out, rest = argv[0], argv[1:]
    import liveai.app.run as app
    from latency_bench import engine_proc
    servers: list = []
    base = app.OscServer

    class CountedOscServer(base):  # type: ignore[misc, valid-type]
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            servers.append(self)

    app.OscServer = CountedOscServer
    rc = engine_proc.main(rest)
    with open(osc_out, "w") as f:
        json.dump({k: getattr(servers[0], k) for k in ("received", "dropped", "rejected")} if servers else {}, f)
    return rc


class Engine:
    """One engine process on the rig's JACK server (no --thru: what the rig hears on channels other
    than the player's is the band)."""

    def __init__(self, rig, generator: str, rt: bool, sender_stats: bool = False) -> None:
        self.dump = tempfile.NamedTemporaryFile(prefix="liveai-soak-", suffix=".json", delete=False).name
        self.osc_dump = tempfile.NamedTemporaryFile(prefix="liveai-soak-osc-", suffix=".json", delete=False).name
        self.osc_port = free_udp_port()
        self.sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sink.bind(("127.0.0.1", 0))
        self.sink.settimeout(0.2)
        self._drain = True
        threading.Thread(target=self._drain_loop, daemon=True).start()
        self.sender_stats = tempfile.NamedTemporaryFile(prefix="liveai-soak-sender-", suffix=".json", delete=False).name
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "LIVEAI_SENDER_RT": "1" if rt else "0"}
        if sender_stats:  # the sender process keeps a record of every message: not in the soak (it grows)
            env["LIVEAI_SENDER_STATS"] = self.sender_stats
        args = [sys.executable, "-m", "latency_bench.soak", "_engine", self.osc_dump, self.dump, "run",
                "--midi-api", "jack", "--midi-in", rig.name, "--midi-out", rig.name, "--tempo", f"{BPM:g}",
                "--idle-bars", "0", *(["--realtime"] if rt else []), "--generator", generator, "--sender", "process",
                "--osc-port", str(self.osc_port), "--osc-out", f"127.0.0.1:{self.sink.getsockname()[1]}",
                "--oscquery-port", "0"]
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.proc = subprocess.Popen(args, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1, preexec_fn=normal_priority)
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(60):
            self.close()
            raise SystemExit("the engine did not get ready in 60 s:\n" + "\n".join(self.lines[-30:]))
        line = next(x for x in self.lines if "liveai: ready" in x)
        m = re.search(r"generator (\S+?),", line)
        self.generator = m.group(1) if m else generator

    def _drain_loop(self) -> None:  # the OSC notes the engine sends: read and dropped
        while self._drain:
            try:
                self.sink.recv(65536)
            except (socket.timeout, OSError):
                pass

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if "liveai: ready" in line:
                self.ready.set()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def close(self) -> dict:
        """SIGTERM, wait; the engine's own record (engine_proc's JSON) and the OSC counters."""
        out: dict = {}
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._drain = False
        for key, path in (("engine", self.dump), ("osc", self.osc_dump), ("sender", self.sender_stats)):
            try:
                with open(path) as f:
                    out[key] = json.load(f)
            except (OSError, ValueError):
                out[key] = {}
            try:
                os.unlink(path)
            except OSError:
                pass
        return out


def play_tune(rig, t0: float, until: float) -> None:
    events, loop_s = tune_loop()
    out, k = [], 0
    while t0 + k * loop_s < until:
        for t, msg in events:
            if t0 + k * loop_s + t < until:
                out.append((t0 + k * loop_s + t, msg.bytes()))
        k += 1
    rig.send_many(out)


def band_ons(rig, a: float, b: float) -> tuple[list[float], int]:
    """The band's note-ons the rig read between a and b, and how many more it read in a cycle
    that began over two periods after the one before: those stamps are late by the rig's (or
    JACK's) own stall, which says nothing of the engine, so they are counted and left out."""
    stall = 2 * rig.period / rig.sr
    ons, stalled = [], 0
    for (t, m), gap in zip(list(rig.received), list(rig.received_gap)):
        if a <= t <= b and len(m) == 3 and m[0] & 0xF0 == 0x90 and m[2] > 0 and m[0] & 0x0F != PLAYER_CH:
            if gap > stall:
                stalled += 1
            else:
                ons.append(t)
    return ons, stalled


def hanging(rig, since: float) -> int:
    on: dict = {}
    for t, m in list(rig.received):
        if t < since or len(m) != 3 or m[0] & 0x0F == PLAYER_CH:
            continue
        k = (m[0] & 0x0F, m[1])
        if m[0] & 0xF0 == 0x90 and m[2] > 0:
            on[k] = on.get(k, 0) + 1
        elif m[0] & 0xF0 == 0x80 or (m[0] & 0xF0 == 0x90 and m[2] == 0):
            on[k] = on.get(k, 0) - 1
        elif m[0] & 0xF0 == 0xB0 and m[1] in (120, 123):  # all notes off / all sound off
            for kk in [x for x in on if x[0] == m[0] & 0x0F]:
                on[kk] = 0
    return sum(1 for n in on.values() if n > 0)


def jitter(ons: list[float], anchor: float) -> dict:
    """Deviation from the 16th grid anchored at `anchor`, offset (median) removed: p50/p99/max (us)."""
    if not ons:
        return {"n": 0}
    dev = [grid_dev(t, anchor) for t in ons]
    med = statistics.median(dev)
    jit = [abs(x - med) * 1e6 for x in dev]
    return {"n": len(jit), "offset_us": med * 1e6, "mean_offset_us": statistics.fmean(dev) * 1e6,
            "p50_us": pct(jit, 50), "p99_us": pct(jit, 99), "max_us": max(jit)}


def load_phase(rig, generator: str, rt: bool, quick: bool, osc_rate: float = OSC_RATE, midi_rate: float = MIDI_RATE) -> dict:
    idle_s, load_s = (10.0, 15.0) if quick else (30.0, 60.0)
    r: dict = {"load_idle_s": idle_s, "load_s": load_s, "load_loadavg_start": loadavg(), "osc_rate": osc_rate, "midi_rate": midi_rate}
    eng = Engine(rig, generator, rt, sender_stats=True)
    r["load_generator"] = eng.generator
    flood = []
    try:
        time.sleep(0.5)
        # Everything the rig sends is queued before the measurement starts: queueing 120,000
        # events while it runs would hold the rig's lock (and this process's GIL) for a tenth of a
        # second, and the rig's own stall would be measured as the engine's lateness.
        t0 = time.perf_counter() + 1.0
        t_idle0 = t0 + 3.0  # the band starts at the first note and settles
        t_load0 = t_idle0 + idle_s
        play_tune(rig, t0, t_load0 + load_s + 3.0)
        # the MIDI load: MIDI_RATE notes a second on the player's channel, each 0.5 ms long
        pitches = (62, 66, 69, 74, 57, 64, 67, 71)
        n_midi = int(load_s * midi_rate)
        start = t_load0 + 0.05
        rig.send_many([ev for i in range(n_midi) for ev in (
            (start + i / midi_rate, (0x90 | PLAYER_CH, pitches[i % 8], 64)),
            (start + i / midi_rate + 0.0005, (0x80 | PLAYER_CH, pitches[i % 8], 0)))])
        time.sleep(max(0.0, t_load0 - time.perf_counter()))
        t_idle1 = t_load0
        eng.proc.send_signal(signal.SIGUSR1)  # engine_proc marks where its hand-over record's load part begins
        for _ in range(2 if osc_rate > 0 else 0):  # two processes, two sockets each: four senders of 2,500 a second
            flood.append(subprocess.Popen([sys.executable, "-c", FLOOD, str(eng.osc_port), str(osc_rate / 2), str(load_s), "2"],
                                          stdout=subprocess.PIPE, text=True, preexec_fn=normal_priority))
        rss0 = rss_mb(eng.pid)
        time.sleep(load_s)
        t_load1 = time.perf_counter()
        eng.proc.send_signal(signal.SIGUSR1)
        r["load_rss_mb_before"], r["load_rss_mb_after"] = rss0, rss_mb(eng.pid)
        sent = replies = full = 0
        secs: list[float] = []
        for p in flood:
            o, _ = p.communicate(timeout=30)
            n, s, rep, fu = o.split()
            sent, replies, full, secs = sent + int(n), replies + int(rep), full + int(fu), secs + [float(s)]
        r["osc_sent"], r["osc_replies"], r["osc_send_buffer_full"] = sent, replies, full
        r["osc_rate_sent"] = sent / max(secs) if secs else 0.0
        time.sleep(3.5)
    finally:
        for p in flood:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        rec = eng.close()
    st = rec["osc"]
    r["osc_processed"], r["osc_dropped_by_limiter"] = st.get("received", -1), st.get("dropped", -1)
    r["osc_lost_in_kernel"] = sent - r["osc_processed"] - r["osc_dropped_by_limiter"]
    r["osc_processed_rate"] = r["osc_processed"] / load_s
    midi_sent = [x for x in list(rig.sent) if t_load0 <= x[1] <= t_load1 + 1 and x[2][0] == 0x90 | PLAYER_CH]
    r["midi_notes_sent"] = len(midi_sent)
    r["midi_rate_sent"] = len(midi_sent) / load_s
    r["load_engine_stats"] = rec["engine"].get("stats", {})
    # Where lateness comes from: the engine handing each event to its sender process (due 30 ms
    # ahead; engine_proc's record between the two SIGUSR1 marks), and the sender process's own
    # lateness against each note's time (its --stats record).
    hand, marks = rec["engine"].get("lateness_s", []), rec["engine"].get("marks", [])
    if len(marks) >= 2:
        for name, part in (("idle", hand[:marks[0][1]]), ("load", hand[marks[0][1]:marks[1][1]])):
            us = [x * 1e6 for x in part]
            r[f"handover_{name}_p99_us"], r[f"handover_{name}_max_us"] = pct(us, 99), max(us, default=float("nan"))
    sent_late = rec.get("sender", {}).get("lateness", [])
    for name, a, b in (("idle", t_idle0, t_idle1), ("load", t_load0, t_load1)):
        us = [late * 1e6 for due, late in sent_late if a <= due <= b]
        r[f"sender_{name}_p99_us"], r[f"sender_{name}_max_us"] = pct(us, 99), max(us, default=float("nan"))
    ons, _ = band_ons(rig, t_idle0, t_load1)
    anchor = ons[0] if ons else 0.0
    idle, load = (jitter([t for t in ons if a <= t <= b], anchor) for a, b in ((t_idle0, t_idle1), (t_load0, t_load1)))
    r["jitter_idle_stalled"] = band_ons(rig, t_idle0, t_idle1)[1]
    r["jitter_load_stalled"] = band_ons(rig, t_load0, t_load1)[1]
    for name, j in (("idle", idle), ("load", load)):
        for k, v in j.items():
            r[f"jitter_{name}_{k}"] = v
    r["jitter_p99_ratio"] = load.get("p99_us", float("nan")) / idle.get("p99_us", float("nan")) if idle.get("p99_us") else float("nan")
    r["load_offset_shift_us"] = load.get("offset_us", float("nan")) - idle.get("offset_us", float("nan"))
    r["load_rig_max_cycle_gap_ms"] = rig.max_cycle_gap * 1000
    return r


def soak_phase(rig, generator: str, rt: bool, quick: bool) -> dict:
    dur = 60.0 if quick else 600.0
    r: dict = {"soak_s": dur, "soak_loadavg_start": loadavg()}
    rig.max_cycle_gap = 0.0
    eng = Engine(rig, generator, rt)
    r["soak_generator"] = eng.generator
    rss: list[tuple[float, float]] = []
    try:
        time.sleep(0.5)
        t0 = time.perf_counter() + 0.3
        play_tune(rig, t0, t0 + dur)
        next_t = t0
        while time.perf_counter() < t0 + dur:
            now = time.perf_counter()
            if now >= next_t:
                rss.append((now - t0, rss_mb(eng.pid)))
                next_t += 10.0
            time.sleep(max(0.0, min(next_t, t0 + dur) - time.perf_counter()))
        rss.append((time.perf_counter() - t0, rss_mb(eng.pid)))
        t1 = time.perf_counter()
        time.sleep(3.0)  # the last bar ends; then the engine stops (SIGTERM: its notes off)
    finally:
        rec = eng.close()
    time.sleep(0.3)
    r["soak_engine_stats"] = rec["engine"].get("stats", {})
    r["soak_rss_samples"] = [(round(t, 1), round(m, 2)) for t, m in rss]
    after = [m for t, m in rss if t >= 60.0]
    r["soak_rss_mb_at_1min"] = after[0] if after else float("nan")
    r["soak_rss_mb_end"] = rss[-1][1]
    r["soak_rss_mb_max_after_1min"] = max(after) if after else float("nan")
    r["soak_rss_growth_mb"] = (max(after) - after[0]) if after else float("nan")
    ons, r["soak_stalled_notes"] = band_ons(rig, t0, t1 + 3.0)
    r["soak_notes"] = len(ons)
    if ons:
        a = ons[0]
        first = jitter([t for t in ons if t < a + 60.0], a)
        last = jitter([t for t in ons if t >= t1 - 60.0], a)
        whole = jitter(ons, a)
        r["soak_offset_first_min_us"] = first["mean_offset_us"]
        r["soak_offset_last_min_us"] = last["mean_offset_us"]
        r["soak_drift_us"] = last["mean_offset_us"] - first["mean_offset_us"]
        r["soak_jitter_p50_us"], r["soak_jitter_p99_us"], r["soak_jitter_max_us"] = whole["p50_us"], whole["p99_us"], whole["max_us"]
    r["soak_hanging_notes"] = hanging(rig, t0)
    r["soak_rig_max_cycle_gap_ms"] = rig.max_cycle_gap * 1000
    return r


# --------------------------------------------------------------------------- report

def checks(r: dict) -> list[tuple[str, bool]]:
    out = []
    if "jitter_p99_ratio" in r:
        out.append((f"load: jitter p99 under load {r['jitter_load_p99_us'] / 1000:.3f} ms <= 1.5 x idle "
                    f"{r['jitter_idle_p99_us'] / 1000:.3f} ms (ratio {r['jitter_p99_ratio']:.2f})", r["jitter_p99_ratio"] <= 1.5))
        idle_rate = r.get("jitter_idle_n", 0) / r["load_idle_s"]
        load_rate = r.get("jitter_load_n", 0) / r["load_s"]
        out.append((f"load: the band kept playing under load ({load_rate:.1f} notes/s vs {idle_rate:.1f} idle, >= 0.8 x)",
                    load_rate >= 0.8 * idle_rate > 0))
        n_all = r.get("jitter_idle_n", 0) + r.get("jitter_load_n", 0)
        n_stalled = r.get("jitter_idle_stalled", 0) + r.get("jitter_load_stalled", 0)
        out.append((f"load: the rig could measure ({n_stalled} of {n_all + n_stalled} notes read in a stalled rig cycle, <= 5%)",
                    n_stalled <= 0.05 * (n_all + n_stalled)))
    if "sim_traced_growth_mb" in r:
        m = r["sim_mark_s"] / 60
        out.append((f"sim: tracemalloc growth minute {m:g} -> {r['sim_seconds'] / 60:g}: {r['sim_traced_growth_mb']:+.3f} MB <= 5 MB",
                    r["sim_traced_growth_mb"] <= 5.0))
        out.append((f"sim: RSS growth minute {m:g} -> {r['sim_seconds'] / 60:g}: {r['sim_rss_growth_mb']:+.2f} MB <= 5 MB",
                    r["sim_rss_growth_mb"] <= 5.0))
        out.append((f"sim: every engine note on the grid (max deviation {r['sim_max_grid_dev_us']:.4f} us < 1 us)",
                    r["sim_max_grid_dev_us"] < 1.0 and r["sim_notes"] > 0))
        out.append((f"sim: no hanging notes ({r['sim_hanging_notes']})", r["sim_hanging_notes"] == 0))
    if "soak_rss_growth_mb" in r:
        out.append((f"soak: RSS growth after the first minute {r['soak_rss_growth_mb']:+.2f} MB <= 5 MB", r["soak_rss_growth_mb"] <= 5.0))
        d = r.get("soak_drift_us", float("nan"))
        out.append((f"soak: drift (mean offset last minute - first minute) {d / 1000:+.3f} ms within 0.5 ms", abs(d) <= 500.0))
        out.append((f"soak: no hanging notes ({r['soak_hanging_notes']})", r["soak_hanging_notes"] == 0))
    return out


def table(r: dict) -> str:
    ms = lambda us: f"{us / 1000:.3f} ms"  # noqa: E731
    g = r.get
    rows = [("machine", r["machine"]), ("date", r["date"])]
    if "sim_seconds" in r:
        rows += [
            ("sim: simulated / wall", f"{r['sim_seconds']:g} s simulated in {r['sim_wall_s']:.1f} s wall (tracemalloc on); "
             f"generator {r['sim_generator']} ({r['sim_primary_steps']}/{r['sim_steps']} steps, fallback {r['sim_fallback_steps']}, errors {r['sim_errors']})"),
            ("sim: engine notes", f"{r['sim_notes']} ({', '.join(f'{k} {v}' for k, v in sorted(r['sim_parts'].items()))})"),
            ("sim: tracemalloc at mark / end (peak)", f"{r.get('sim_mark_traced_mb', float('nan')):.3f} / {r.get('sim_end_traced_mb', float('nan')):.3f} MB "
             f"({r.get('sim_traced_peak_mb', float('nan')):.3f} MB)"),
            ("sim: RSS at mark / end", f"{r['sim_mark_rss_mb']:.2f} / {r['sim_end_rss_mb']:.2f} MB"),
            ("sim: max grid deviation, hanging", f"{r['sim_max_grid_dev_us']:.6f} us; {r['sim_hanging_notes']} hanging"),
        ]
    if "jitter_p99_ratio" in r:
        rows += [
            ("load: generator, JACK", f"{r['load_generator']}; {r['jack']}; load average at start {r['load_loadavg_start']:.2f}"),
            ("load: OSC", f"{r['osc_sent']} sent ({r['osc_rate_sent']:.0f}/s, 4 senders); processed {r['osc_processed']} "
             f"({r['osc_processed_rate']:.0f}/s), dropped by the limiter {r['osc_dropped_by_limiter']}, lost in the kernel "
             f"{r['osc_lost_in_kernel']}; {r['osc_replies']} replies"),
            ("load: MIDI in", f"{r['midi_notes_sent']} notes ({r['midi_rate_sent']:.0f}/s)"),
            ("load: jitter idle (p50 / p99 / max)", f"{ms(g('jitter_idle_p50_us'))} / {ms(g('jitter_idle_p99_us'))} / "
             f"{ms(g('jitter_idle_max_us'))} ({g('jitter_idle_n')} notes, {r['load_idle_s']:g} s; "
             f"{g('jitter_idle_stalled')} more read in a stalled rig cycle, left out)"),
            ("load: jitter under load", f"{ms(g('jitter_load_p50_us'))} / {ms(g('jitter_load_p99_us'))} / "
             f"{ms(g('jitter_load_max_us'))} ({g('jitter_load_n')} notes, {r['load_s']:g} s; {g('jitter_load_stalled')} "
             f"more in a stalled rig cycle, left out); p99 ratio {r['jitter_p99_ratio']:.2f}; "
             f"offset shift {ms(r['load_offset_shift_us'])}"),
            ("load: hand-over to the sender process, late by (p99 / max)",
             f"idle {ms(g('handover_idle_p99_us', float('nan')))} / {ms(g('handover_idle_max_us', float('nan')))}, "
             f"load {ms(g('handover_load_p99_us', float('nan')))} / {ms(g('handover_load_max_us', float('nan')))} (due 30 ms before the note)"),
            ("load: sender process, late by (p99 / max)",
             f"idle {ms(g('sender_idle_p99_us', float('nan')))} / {ms(g('sender_idle_max_us', float('nan')))}, "
             f"load {ms(g('sender_load_p99_us', float('nan')))} / {ms(g('sender_load_max_us', float('nan')))}"),
            ("load: engine steps, RSS", f"{r['load_engine_stats']}; {r['load_rss_mb_before']:.1f} -> {r['load_rss_mb_after']:.1f} MB"),
        ]
    if "soak_rss_growth_mb" in r:
        rows += [
            ("soak: run", f"{r['soak_s']:g} s, generator {r['soak_generator']}, {r['soak_notes']} engine notes, "
             f"steps {r['soak_engine_stats']}, load average at start {r['soak_loadavg_start']:.2f}"),
            ("soak: RSS at 1 min / end / max after", f"{r['soak_rss_mb_at_1min']:.2f} / {r['soak_rss_mb_end']:.2f} / "
             f"{r['soak_rss_mb_max_after_1min']:.2f} MB"),
            ("soak: mean offset first / last minute", f"{ms(g('soak_offset_first_min_us', float('nan')))} / "
             f"{ms(g('soak_offset_last_min_us', float('nan')))}"),
            ("soak: jitter whole run p50 / p99 / max", f"{ms(g('soak_jitter_p50_us', float('nan')))} / "
             f"{ms(g('soak_jitter_p99_us', float('nan')))} / {ms(g('soak_jitter_max_us', float('nan')))}; "
             f"rig max cycle gap {r['soak_rig_max_cycle_gap_ms']:.2f} ms; {r['soak_stalled_notes']} notes read in a "
             f"stalled rig cycle, left out"),
        ]
    w = max(len(a) for a, _ in rows)
    out = [f"{a:<{w}}  {b}" for a, b in rows] + [""]
    out += [f"{'PASS' if ok else 'FAIL'}  {text}" for text, ok in checks(r)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_engine":
        return engine_main(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m latency_bench.soak", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10 simulated minutes, 15 s of load, 60 s of soak")
    ap.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    ap.add_argument("--only", default="sim,load,soak", help="which parts, comma-separated (default sim,load,soak)")
    ap.add_argument("--generator", default="model", help="the engine's generator (default model)")
    ap.add_argument("--osc-rate", type=float, default=OSC_RATE, help="OSC messages a second in the load phase (default 10,000)")
    ap.add_argument("--midi-rate", type=float, default=MIDI_RATE, help="MIDI notes a second in the load phase (default 1,000)")
    ap.add_argument("--no-rt", dest="rt", action="store_false", help="no real-time scheduling")
    args = ap.parse_args(argv)
    parts = set(args.only.split(","))
    r: dict = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "quick": args.quick}
    if "sim" in parts:
        r.update(sim_soak(600.0 if args.quick else 3600.0, args.generator))
        print(f"sim done: {r['sim_seconds']:g} s simulated in {r['sim_wall_s']:.1f} s", flush=True)
    if parts & {"load", "soak"}:
        from latency_bench.jackrig import JackRig
        with JackServer(realtime=args.rt) as js:
            r["jack"] = f"dummy 48 kHz, 32 frames, {'real-time' if js.realtime else 'not real-time'}"
            if args.rt:
                try:
                    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(40))
                except (OSError, AttributeError):
                    pass
            rig = JackRig("soak")
            try:
                if "load" in parts:
                    r.update(load_phase(rig, args.generator, args.rt, args.quick, args.osc_rate, args.midi_rate))
                    print("load done", flush=True)
                    time.sleep(1.0)
                if "soak" in parts:
                    r.update(soak_phase(rig, args.generator, args.rt, args.quick))
            finally:
                rig.close()
    print(table(r))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=2, sort_keys=True, default=str)
        print(f"wrote {args.json}")
    return 0 if all(ok for _, ok in checks(r)) else 1


if __name__ == "__main__":
    sys.exit(main())
