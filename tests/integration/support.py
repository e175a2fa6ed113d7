"""Helpers for the integration tests: an engine subprocess, an OSC peer on a real UDP socket,
JACK's connection list and the grid-jitter arithmetic."""
from __future__ import annotations

import json
import math
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

REPO = Path(__file__).resolve().parents[2]


class EngineProcess:
    """`python -m liveai ...` with stdout and stderr collected line by line in a thread."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.args = [sys.executable, "-m", "liveai", *args]
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(self.args, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
        self.lines: list[tuple[float, str]] = []
        self._new = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._new:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self._new.notify_all()
        with self._new:
            self._new.notify_all()

    @property
    def output(self) -> str:
        with self._new:
            return "\n".join(line for _, line in self.lines)

    def wait_for_line(self, text: str, timeout: float) -> tuple[float, str]:
        """(seconds since the process was started, line) of the first line containing text."""
        deadline = time.monotonic() + timeout
        with self._new:
            while True:
                for t, line in self.lines:
                    if text in line:
                        return t - self.t_start, line
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no line containing {text!r} after {timeout} s "
                                         f"(exit code {self.proc.poll()}); output:\n{self.output[-3000:]}")
                self._new.wait(min(left, 0.2))

    def signal(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        rc = self.proc.wait(timeout)
        self._reader.join(5)
        return rc

    def stop(self, timeout: float = 20.0) -> None:
        """For cleanup: SIGTERM, wait for it to end, and kill it if it does not."""
        self.signal()
        try:
            self.wait(timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        """For cleanup: stop it whatever state it is in."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(5)


@dataclass
class OscMsg:
    t: float  # time.monotonic() on arrival
    address: str
    args: tuple
    types: str


def osc_datagram(address: str, *args, types: str | None = None) -> bytes:
    b = OscMessageBuilder(address=address)
    for i, a in enumerate(args):
        b.add_arg(a, types[i] if types else None)
    return b.build().dgram


def parse_datagram(data: bytes, t: float) -> list[OscMsg]:
    out = []
    for m in OscPacket(data).messages:
        msg = m.message
        # The type tags as sent (python-osc keeps the raw datagram).
        raw = msg.dgram
        i = raw.index(b",")
        tags = raw[i + 1:raw.index(b"\0", i)].decode()
        out.append(OscMsg(t, msg.address, tuple(msg.params), tags))
    return out


# A stall probe in a process of its own, beside liveai: sleeps 1 ms at a time and notes how late
# it woke; when it stalled in a window, so could anything else there (a shared machine's noise).
_PROBE = r"""
import json, sys, threading, time
late, stop = [], threading.Event()
def run():
    while not stop.is_set():
        t = time.monotonic()
        time.sleep(0.001)
        late.append((t, time.monotonic() - t - 0.001))
threading.Thread(target=run, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
stop.set()
time.sleep(0.01)
print(json.dumps(late), flush=True)
"""


class StallProbe:
    """The machine's own timer noise in a test's windows: a 1 ms sleep loop in a process of its
    own, each wake-up's lateness noted (a cyclictest for tests that judge timing on a shared
    machine: a window where it woke late is one where the machine stalled, whatever liveai did)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _PROBE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"
        self.woke: list[tuple[float, float]] = []

    def stop(self) -> None:
        """End it and read what it noted (idempotent)."""
        if self.proc.returncode is None:
            out, _ = self.proc.communicate("", timeout=10)
            lines = out.strip().splitlines()
            self.woke = [tuple(x) for x in json.loads(lines[-1])] if lines else []

    def late(self, t0: float, t1: float) -> list[float]:
        """Each wake-up's lateness (s) in [t0, t1) of time.monotonic()."""
        return [x for t, x in self.woke if t0 <= t < t1]

    def worst_ms(self, t0: float, t1: float) -> float:
        return max(self.late(t0, t1), default=0.0) * 1000


def udp_drops(port: int) -> int | None:
    """Datagrams the kernel dropped at the UDP socket bound to `port` (its receive buffer full:
    /proc/net/udp's drops column), or None where it cannot be read. A datagram dropped there never
    reached liveai: a window with drops is one where the machine starved the receiving thread."""
    try:
        with open("/proc/net/udp") as f:
            next(f)
            for line in f:
                fields = line.split()
                if len(fields) >= 13 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return int(fields[-1])
    except (OSError, ValueError, StopIteration):
        pass
    return None


def cpu_pressure_s() -> float:
    """Linux's CPU pressure so far (/proc/pressure/cpu, 'some' total): the seconds during which
    some runnable task waited for a CPU; NaN where the kernel has no PSI. Its growth over a window
    over the window's length is the share of it that the machine was oversubscribed."""
    try:
        with open("/proc/pressure/cpu") as f:
            for line in f:
                if line.startswith("some"):
                    return int(line.rsplit("total=", 1)[1]) / 1e6
    except (OSError, ValueError, IndexError):
        pass
    return float("nan")


class OscPeer:
    """A UDP socket on 127.0.0.1 that records every OSC message it receives, and sends from the
    same address (so replies that go to the sender's address come back here)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.messages: list[OscMsg] = []
        self.bad: list[bytes] = []
        self._new = threading.Condition()
        self._running = True
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while self._running:
            try:
                data, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            t = time.monotonic()
            try:
                msgs = parse_datagram(data, t)
            except Exception:
                self.bad.append(data)
                continue
            with self._new:
                self.messages.extend(msgs)
                self._new.notify_all()

    def send(self, port: int, address: str, *args, types: str | None = None) -> None:
        self.sock.sendto(osc_datagram(address, *args, types=types), ("127.0.0.1", port))

    def wait_for(self, pred, timeout: float, after: int = 0) -> OscMsg:
        """The first message (from index `after` on) for which pred is true."""
        deadline = time.monotonic() + timeout
        with self._new:
            while True:
                for m in self.messages[after:]:
                    if pred(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({m.address for m in self.messages})
                    raise AssertionError(f"no matching OSC message in {timeout} s; addresses seen: {seen}")
                self._new.wait(min(left, 0.2))

    def request(self, port: int, address: str, reply: str, *args, timeout: float = 5.0) -> OscMsg:
        with self._new:
            n = len(self.messages)
        self.send(port, address, *args)
        return self.wait_for(lambda m: m.address == reply, timeout, after=n)

    def close(self) -> None:
        self._running = False
        self._thread.join(2)
        self.sock.close()


def jack_connections() -> dict[str, list[str]]:
    """{port: [ports connected to it]} from `jack_lsp -c` (on $JACK_DEFAULT_SERVER)."""
    out = subprocess.run(["jack_lsp", "-c"], capture_output=True, text=True, timeout=10, check=True).stdout
    conns: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if not line.strip():
            continue
        if line.startswith((" ", "\t")):
            if current is not None:
                conns[current].append(line.strip())
        else:
            current = line.strip()
            conns[current] = []
    return conns


def jack_connect(a: str, b: str) -> None:
    subprocess.run(["jack_connect", a, b], capture_output=True, text=True, timeout=10, check=True)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        raise ValueError("no values")
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


@dataclass
class Jitter:
    n: int
    anchor_offset_ms: float  # median deviation from the grid anchored at the first player note
    p50_ms: float  # |deviation - median| percentiles: the jitter around that grid
    p95_ms: float
    max_ms: float
    anchored_p50_ms: float  # |deviation| from the anchored grid itself, offset included
    anchored_p95_ms: float

    def line(self) -> str:
        return (f"grid jitter over {self.n} engine note-ons (JACK timestamps): p50 {self.p50_ms:.3f} ms, "
                f"p95 {self.p95_ms:.3f} ms, max {self.max_ms:.3f} ms; offset from the grid anchored at the "
                f"first player note {self.anchor_offset_ms:+.3f} ms (|dev| p50 {self.anchored_p50_ms:.3f}, "
                f"p95 {self.anchored_p95_ms:.3f} ms)")


def grid_jitter(times: list[float], anchor: float, step: float) -> Jitter:
    """Deviations of times (s) from the grid anchor + k * step."""
    dev = [(t - anchor) - round((t - anchor) / step) * step for t in times]
    med = statistics.median(dev)
    jit = sorted(abs(d - med) * 1000 for d in dev)
    anch = sorted(abs(d) * 1000 for d in dev)
    return Jitter(len(times), med * 1000, percentile(jit, 50), percentile(jit, 95), jit[-1],
                  percentile(anch, 50), percentile(anch, 95))


def path_jitter(arrived: list[float], sent: list[float]) -> tuple[float, float, float]:
    """(p50, p95, max) in ms of |deviation - median| between arrival times (one clock) and send
    times (another clock), both taken relative to their first value: the noise of the path between."""
    dev = [(a - arrived[0]) - (s - sent[0]) for a, s in zip(arrived, sent)]
    med = statistics.median(dev)
    jit = sorted(abs(d - med) * 1000 for d in dev)
    return percentile(jit, 50), percentile(jit, 95), jit[-1]
