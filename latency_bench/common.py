"""Helpers the bench's modules and the test suite share: a private JACK server, free ports,
percentiles, process CPU and memory, and load processes at normal priority.

One implementation for both, so a fix to how JACK is started or a port is found reaches every
measurement and every test. Imports nothing from liveai.
"""
from __future__ import annotations

import codecs
import math
import re
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return float("nan")
    v = sorted(values)
    return v[max(0, min(len(v) - 1, math.ceil(q / 100 * len(v)) - 1))]


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (OSCQuery's HTTP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rt_allowed() -> bool:
    """Whether this process may ask for SCHED_FIFO at JACK's priority (root or RLIMIT_RTPRIO)."""
    import resource
    try:
        return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_RTPRIO)[0] >= 80
    except (OSError, AttributeError, ValueError):
        return False


def jack_up(env: dict[str, str]) -> bool:
    """Whether the JACK server named in env answers with its system ports."""
    try:
        r = subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return False
    return r.returncode == 0 and "system:" in r.stdout


# --------------------------------------------------------------------------- processes

class JackServer:
    """A private jackd on the dummy driver (48 kHz), named uniquely, for the bench and the tests.

    Sync mode (-S): with the default asynchronous mode, MIDI events were occasionally lost on a
    busy 2-core machine (a few in 200 while a process spins a core); in sync mode none were.
    Real-time JACK where allowed, as on a stage box: liveai runs its threads on SCHED_FIFO, and a
    normal-priority JACK would then be the thing the load delays. While entered, JACK_DEFAULT_SERVER
    and JACK_NO_START_SERVER are set in os.environ (so rtmidi clients here and in child processes
    use it and nothing starts a server by accident); they are restored on exit.
    """

    def __init__(self, period: int = 32, realtime: bool = True, prefix: str = "lvbench",
                 log_path: str | Path | None = None) -> None:
        self.name = f"{prefix}{os.getpid()}"
        self.env = {**os.environ, "JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1",
                    "JACK_NO_AUDIO_RESERVATION": "1"}
        self.realtime = realtime
        self.period = period
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="jackd-", suffix=".log")[1])
        self._saved: dict[str, str | None] = {}

    def log_tail(self, n: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-n:]

    def __enter__(self) -> "JackServer":
        if shutil.which("jackd") is None or shutil.which("jack_lsp") is None:
            raise RuntimeError("needs jackd and jack_lsp (apt-get install jackd2)")
        for rt in ([True, False] if self.realtime and rt_allowed() else [False]):
            args = ["jackd", "-n", self.name, "-S", *(["-R", "-P", "80"] if rt else ["--no-realtime"]), "-d", "dummy",
                    "-r", "48000", "-p", str(self.period)]
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                             env=self.env, start_new_session=True)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and self.proc.poll() is None:
                if jack_up(self.env):
                    self.realtime = rt
                    for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER"):
                        self._saved[k] = os.environ.get(k)
                        os.environ[k] = self.env[k]
                    return self
                time.sleep(0.1)
            self._stop()
        raise RuntimeError(f"jackd did not start; see {self.log_path}: " + self.log_tail(300).replace("\n", " | "))

    def _stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __exit__(self, *exc) -> None:
        for k, v in self._saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self._stop()
        # jackd leaves its named semaphores behind when clients were killed; tidy ours only.
        for p in Path("/dev/shm").glob(f"jack_sem.*_{self.name}_*"):
            try:
                p.unlink()
            except OSError:
                pass


def tree(pid: int) -> list[int]:
    """pid and its descendants (the engine and its sender process)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children, all their threads (s)."""
    total = 0.0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    """Resident memory of a process and its children (MB)."""
    total = 0.0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def cpu_percent(pid: int, seconds: float) -> float:
    c0, t0 = cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)
    return 100.0 * (cpu_seconds(pid) - c0) / (time.perf_counter() - t0)


def normal_priority() -> None:
    """For child processes that are load, not engine: back to SCHED_OTHER."""
    from liveai.timing.realtime import set_thread_priority
    set_thread_priority(0)


def cyclictest(seconds: float, priority: int) -> subprocess.Popen | None:
    if shutil.which("cyclictest") is None:
        return None
    args = ["cyclictest", "-q", "-m", "-D", str(int(math.ceil(seconds))), "-i", "1000", "-h", "20000"]
    args += ["-p", str(priority), "--policy=fifo"] if priority > 0 else ["--policy=other"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=normal_priority)


def cyclictest_result(proc: subprocess.Popen | None) -> dict:
    if proc is None:
        return {}
    out, _ = proc.communicate(timeout=60)
    hist: list[tuple[int, int]] = []
    overflow = 0
    res: dict = {}
    for line in out.splitlines():
        m = re.match(r"^(\d{6}) (\d+)", line)
        if m:
            hist.append((int(m.group(1)), int(m.group(2))))
        elif line.startswith("# Histogram Overflows:"):
            overflow = int(line.split(":")[1].split()[0])
        elif line.startswith("# Max Latencies:"):
            res["max_us"] = int(line.split(":")[1].split()[0])
        elif line.startswith("# Avg Latencies:"):
            res["avg_us"] = int(line.split(":")[1].split()[0])
    total = sum(c for _, c in hist) + overflow
    if total:
        def q(p: float) -> float:
            need, acc = p * total, 0
            for us, c in hist:
                acc += c
                if acc >= need:
                    return float(us)
            return float(res.get("max_us", 20000))
        res.update(p50_us=q(0.50), p99_us=q(0.99), n=total)
    return res


# --------------------------------------------------------------------------- the run


VIEW_MARK = "\x1b[2Kliveai "
"""What the live view writes at the start of each redraw (its first line, after erasing it): the
bench counts these in --show runs to show that the view was drawing while it measured."""

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def strip_ansi(text: str) -> str:
    """A terminal's text without its escape sequences (cursor moves, erases, colours) and carriage
    returns: what the bench parses from an engine whose output is a pseudo-terminal."""
    return _ANSI.sub("", text).replace("\r", "")


def read_pty_lines(fd: int, on_line, on_raw_line=None) -> None:
    """Read a pseudo-terminal's master side until the child closes it, calling on_line(text) for
    each line with escapes stripped (and on_raw_line(line) with it as written). It never stops
    draining before the end, so a live view writing to the terminal never blocks on a full buffer."""
    dec = codecs.getincrementaldecoder("utf-8")("replace")
    buf = ""

    def emit(line: str) -> None:
        if on_raw_line is not None:
            on_raw_line(line)
        on_line(strip_ansi(line).rstrip())
    try:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: every slave descriptor closed (the child has exited)
                break
            if not chunk:
                break
            buf += dec.decode(chunk)
            *done, buf = buf.split("\n")
            for line in done:
                emit(line)
        buf += dec.decode(b"", final=True)
        if buf:
            emit(buf)
    finally:
        os.close(fd)
