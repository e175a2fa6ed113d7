"""Thread priorities, in one place: liveai's real-time threads always sit below the audio server.

The rule (README, "Timing"): the audio server (JACK, or PipeWire) and its clients' process threads
are the most urgent work on the box; every liveai thread runs below them. A liveai thread above
them, on a 2-core machine, would delay the server's cycle whenever it runs or spins (issue 16
measured the note jitter as heard on JACK 3-4x isobar's with liveai's SCHED_FIFO threads above a
JACK that was not real-time). So:

- the server real-time at priority P (the highest SCHED_FIFO/RR priority of its threads): liveai's
  ceiling is below its clients' threads (jackd runs them at P - 5, PipeWire's at P): the sender at
  min(70, ceiling), the engine threads at min(50, sender - 1);
- the server found but not real-time: no liveai thread is real-time either (SCHED_OTHER);
- no audio server found: the defaults (sender 70, engine 50);
- always capped by RLIMIT_RTPRIO unless root; a refusal is logged and the thread stays normal.

The server is found from /proc: for JACK the server named by JACK_DEFAULT_SERVER (jackd's `-n`),
else every jackd/jackdbus/pipewire process on the box (the lowest ceiling wins).
"""
from __future__ import annotations

import logging
import os
import resource
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SENDER_PRIORITY = 70  # the thread (or process) that sends notes at their time
ENGINE_PRIORITY = 50  # the engine loop, its model worker, MIDI input: below the sender
JACK_CLIENT_OFFSET = 5  # jackd -P P runs its clients' process threads at P - 5 (measured, jack2 1.9)
SERVERS = ("jackd", "jackdbus", "pipewire")


@dataclass(frozen=True)
class AudioServer:
    """An audio server process and its real-time priority (0: not real-time)."""

    name: str  # process name (jackd, jackdbus, pipewire)
    pid: int
    priority: int  # highest SCHED_FIFO/RR priority among its threads; 0 if none

    @property
    def client_priority(self) -> int:
        """The priority its clients' process threads run at (those must stay above liveai too)."""
        if self.priority <= 0:
            return 0
        return max(1, self.priority - JACK_CLIENT_OFFSET) if self.name.startswith("jack") else self.priority


def _rt_priority(pid: int) -> int:
    """Highest real-time priority of any thread of pid (0 if none is SCHED_FIFO/RR)."""
    best = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tasks:
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        # after the comm: field 3 is index 0, so rt_priority (40) is [37] and policy (41) is [38]
        prio, policy = int(fields[37]), int(fields[38])
        if policy in (1, 2):  # SCHED_FIFO, SCHED_RR
            best = max(best, prio)
    return best


def _jack_name(cmdline: list[str]) -> str:
    """The server name of a jackd command line (-n NAME / --name NAME / -nNAME), default 'default'."""
    for i, a in enumerate(cmdline):
        if a in ("-n", "--name") and i + 1 < len(cmdline):
            return cmdline[i + 1]
        if a.startswith("--name="):
            return a.split("=", 1)[1]
        if a.startswith("-n") and len(a) > 2 and not a.startswith("--"):
            return a[2:]
        if a == "-d":  # driver options follow
            break
    return "default"


def audio_servers(jack_name: str | None = None) -> list[AudioServer]:
    """The audio servers running on this box; with jack_name, only that JACK server (and PipeWire)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
        except OSError:
            continue
        if comm not in SERVERS:
            continue
        if jack_name is not None and comm == "jackd":
            try:
                args = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue
            if _jack_name(args[1:]) != jack_name:
                continue
        pid = int(entry)
        found.append(AudioServer(comm, pid, _rt_priority(pid)))
    return found


def _rlimit_cap(priority: int) -> int:
    if os.geteuid() == 0:
        return priority
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_RTPRIO)
    except (OSError, AttributeError, ValueError):
        return 0
    return priority if soft == resource.RLIM_INFINITY else min(priority, soft)


@dataclass(frozen=True)
class Priorities:
    """What liveai's threads get: 0 means SCHED_OTHER (normal)."""

    sender: int
    engine: int
    reason: str


def plan(servers: list[AudioServer] | None = None, midi_api: str | None = None) -> Priorities:
    """The priorities for this box, below every audio server found (module docstring)."""
    if servers is None:
        jack = os.environ.get("JACK_DEFAULT_SERVER", "default") if midi_api == "jack" else None
        servers = audio_servers(jack)
    sender, engine = SENDER_PRIORITY, ENGINE_PRIORITY
    reason = "no audio server found"
    if servers:
        ceiling = min(s.client_priority for s in servers) - 1
        low = min(servers, key=lambda s: s.client_priority)
        if ceiling < 1:
            return Priorities(0, 0, f"{low.name} (pid {low.pid}) is not real-time: liveai stays at normal priority")
        sender = min(sender, ceiling)
        engine = min(engine, sender - 1)
        reason = (f"{low.name} (pid {low.pid}) at real-time priority {low.priority}, its clients at "
                  f"{low.client_priority}: liveai below them")
    capped_sender, capped_engine = _rlimit_cap(sender), _rlimit_cap(engine)
    if (capped_sender, capped_engine) != (sender, engine):
        reason += f"; RLIMIT_RTPRIO caps it at {capped_sender}"
    if capped_sender >= 1 and capped_engine >= capped_sender:
        capped_engine = capped_sender - 1
    return Priorities(max(0, capped_sender), max(0, capped_engine), reason)


def set_thread_priority(priority: int, what: str = "thread") -> bool:
    """The calling thread (Linux: pid 0 is this thread) on SCHED_FIFO at priority, or back on
    SCHED_OTHER for priority 0. True if the thread now runs as asked; a refusal is logged."""
    if not hasattr(os, "sched_setscheduler"):
        return False
    try:
        if priority <= 0:
            if os.sched_getscheduler(0) in (os.SCHED_FIFO, os.SCHED_RR):
                os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
            return True
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        log.info("%s: SCHED_FIFO priority %d", what, priority)
        return True
    except OSError as e:
        log.info("%s: real-time scheduling not allowed (%s); normal priority", what, e)
        return False


def is_realtime() -> bool:
    """Whether the calling thread runs SCHED_FIFO/RR."""
    try:
        return os.sched_getscheduler(0) in (os.SCHED_FIFO, os.SCHED_RR)
    except (OSError, AttributeError):
        return False


PR_SET_TIMERSLACK = 29
SYS_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274, "armv7l": 380, "armv6l": 380}
SHORT_SLICE_NS = 100_000  # the shortest slice the kernel accepts (0.1 ms)


def thread_ids() -> set[int]:
    """The ids of this process's threads (Linux)."""
    try:
        return {int(t) for t in os.listdir("/proc/self/task")}
    except OSError:
        return set()


def short_slice(tids: set[int], slice_ns: int = SHORT_SLICE_NS) -> int:
    """Give threads of this process (e.g. the JACK client thread a MIDI port just started) a short
    EEVDF slice when the audio server is not real-time: each JACK cycle waits for every client in
    a sync-mode graph, so a client thread that wakes late stalls the cycle (issue 16: liveai's two
    JACK clients were in 2/3 of the stalled cycles at load 5). Same weight, so never above the
    server. Returns how many threads took it; nothing for real-time threads."""
    import ctypes
    import platform
    import struct
    nr = SYS_SCHED_SETATTR.get(platform.machine())
    if nr is None:
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return 0
    n = 0
    for tid in tids:
        try:
            if os.sched_getscheduler(tid) != os.SCHED_OTHER:
                continue
            nice = os.getpriority(os.PRIO_PROCESS, tid)
        except OSError:
            continue
        attr = ctypes.create_string_buffer(struct.pack("<IIQiIQQQ", 48, 0, 0, nice, 0, slice_ns, 0, 0), 48)
        n += libc.syscall(nr, tid, attr, 0) == 0
    return n


def punctual_normal_thread(slice_ns: int = SHORT_SLICE_NS) -> list[str]:
    """For a thread that must wake on time without real-time scheduling (the audio server is not
    real-time, so neither is liveai): timer slack 1 ns (a normal thread's sleeps may otherwise end
    up to 50 us late, by design) and, on Linux 6.12+ (EEVDF), a short requested slice, which lets it
    preempt at once when it wakes. Neither changes its share of the CPU (its weight): it stays level
    with the audio server, never above it. Returns what was applied."""
    import ctypes
    import platform
    import struct
    done = []
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return done
    if libc.prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0) == 0:
        done.append("timer slack 1 ns")
    # struct sched_attr: size, policy, flags, nice, priority, runtime (the slice), deadline, period
    if slice_ns > 0 and short_slice({threading.get_native_id()}, slice_ns):
        done.append(f"slice {slice_ns / 1000:g} us")
    return done
