"""liveai driven and read by an independent OSC implementation: liblo's oscsend sends every "in"
address of the table to a running engine (`liveai run --no-midi`), liblo's oscdump receives, and
every "out" address is seen. Also: OSCQuery over HTTP, timetagged bundles, errors to the sender."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from liveai.control.addresses import ADDRESSES, BAND_PARTS, PARTS, TABLE
from liveai.io.osc import build

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
need = pytest.mark.skipif(not (shutil.which("oscsend") and shutil.which("oscdump")), reason="liblo-tools not installed")


from latency_bench.common import free_tcp_port, free_udp_port  # noqa: E402,F401 (re-exported for other tests)


class Lines:
    """A subprocess whose output lines are collected by a thread; wait for a line, never sleep-and-hope."""

    def __init__(self, args: list[str], **kw) -> None:
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1, **kw)
        self.lines: list[str] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait(self, pred, timeout: float = 10.0, start: int = 0) -> str:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[start:]:
                    if pred(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self._more():
                    raise AssertionError(f"timed out; last lines:\n" + "\n".join(self.lines[-30:]))
                self.cond.wait(min(left, 0.1))

    def _more(self) -> bool:
        return False

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def dump_address(line: str) -> str | None:
    """oscdump prints '[timetag] /address types values...'."""
    for tok in line.split()[:2]:
        if tok.startswith("/"):
            return tok
    return None


def oscsend(port: int, path: str, *args, types: str = "") -> None:
    cmd = ["oscsend", "127.0.0.1", str(port), path]
    if args:
        cmd += [types, *[str(a) for a in args]]
    subprocess.run(cmd, check=True, timeout=5, capture_output=True)


def example_with_port(a, port: int) -> tuple[tuple, str]:
    """The address's example arguments, plus the reply port where it takes one; and their types."""
    args = tuple(a.example)
    if a.args and a.args[-1].name == "port" and len(args) == len(a.args) - 1:
        args += (port,)
    return args, "".join(x.type for x in a.args[:len(args)])


@pytest.fixture
def engine(tmp_path):
    port, notes_port, http_port = free_udp_port(), free_udp_port(), free_tcp_port()
    bundles = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bundles.bind(("127.0.0.1", notes_port))
    bundles.settimeout(5)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LIVEAI_CONFIG": str(tmp_path / "liveai.toml")}
    proc = Lines([sys.executable, "-m", "liveai", "run", "--no-midi", "--generator", "rules", "--tempo", "200",
                  "--osc-port", str(port), "--osc-out", f"127.0.0.1:{notes_port}", "--oscquery-port", str(http_port),
                  "--osc-bundle-latency", "50", "--record", str(tmp_path / "takes"), "--idle-bars", "0"],
                 cwd=REPO, env=env)
    try:
        proc.wait(lambda s: "ready in" in s, timeout=30)
        yield {"port": port, "http": http_port, "bundles": bundles, "proc": proc, "tmp": tmp_path}
    finally:
        proc.stop(signal.SIGINT)
        bundles.close()


@need
def test_oscsend_and_oscdump_walk_every_address(engine):
    port, d = engine["port"], free_udp_port()
    dump = Lines(["oscdump", "-L", str(d)])
    try:
        # oscdump is listening once a ping answered to its port shows up
        deadline = time.monotonic() + 10
        while not any("/liveai/pong" in s for s in dump.lines):
            assert time.monotonic() < deadline, "oscdump never received /liveai/pong"
            oscsend(port, "/liveai/ping", d, types="i")
            time.sleep(0.1)
        sent: set[str] = {"/liveai/ping"}

        def send(path, *args, types=""):
            oscsend(port, path, *args, types=types)
            sent.add(path)

        def seen(path, timeout=10.0, start=0):
            return dump.wait(lambda s: dump_address(s) == path, timeout, start)

        send("/liveai/listen", d, types="i")
        for p in ADDRESSES.values():  # every value at once
            if p.verb in ("set", "value"):
                seen(p.path)
        # the player plays a few bars over OSC: notes, position, key and chord come back
        for k in range(12):
            pitch = (62, 66, 69, 66)[k % 4]
            send("/liveai/player/note", pitch, 90, types="ii")
            time.sleep(0.12)
            send("/liveai/player/note", pitch, 0, types="ii")
        for part in ("bass", "tenor", "alto"):
            seen(f"/liveai/{part}/note")
        line = seen("/liveai/key")
        assert re.search(r'"[A-G][#b]? (major|minor)"', "\n".join(dump.lines)), line
        # call mode answers a phrase with the melody part
        mark = len(dump.lines)
        send("/liveai/mode", "call", types="s")
        seen("/liveai/mode", start=mark)
        for pitch in (62, 64, 66, 67, 69):
            send("/liveai/player/note", pitch, 90, types="ii")
            time.sleep(0.15)
            send("/liveai/player/note", pitch, 0, types="ii")
        seen("/liveai/melody/note", timeout=15)

        # every other "in" address with its example (answers to oscdump's port); unlisten last
        walk = [a for a in TABLE if a.incoming and a.path not in sent]
        walk.sort(key=lambda a: a.verb == "unlisten" or a.path == "/liveai/unlisten")
        for a in walk:
            mark = len(dump.lines)
            args, types = example_with_port(a, d)
            send(a.path, *args, types=types)
            if a.verb == "get":
                seen(f"/liveai/{a.topic}", start=mark)
            elif a.verb == "set" and a.topic != "generator":
                seen(a.path, start=mark)  # the new value, pushed to the listener
            elif a.path == "/liveai/record/start":
                time.sleep(0.3)
            elif a.path == "/liveai/record/stop":
                saved = seen("/liveai/record/saved", start=mark)
                assert str(engine["tmp"] / "takes") in saved
            elif a.path == "/liveai/status":
                seen("/liveai/status/reply", start=mark)
            elif a.path == "/liveai/config/save":
                seen("/liveai/config/saved", start=mark)
        # a band style: its parts' notes come back too (the walk's examples muted them: unmute)
        mark = len(dump.lines)
        for part in BAND_PARTS:
            send(f"/liveai/{part}/mute", 0, types="i")
        send("/liveai/mode", "accompany", types="s")
        send("/liveai/listen/notes", d, types="i")  # the walk ended with unlisten
        for style in ("ballad", "pop"):  # ballad has the arpeggio (after the intro the walk asked for), pop the comp
            send("/liveai/band/style", style, types="s")
            for k in range(16 if style == "ballad" else 8):
                pitch = (62, 66, 69, 66)[k % 4]
                send("/liveai/player/note", pitch, 90, types="ii")
                time.sleep(0.12)
                send("/liveai/player/note", pitch, 0, types="ii")
        # status queries from 300 senders at once (one sender's repeats would coalesce), beyond the
        # control queue's query burst: the drops are counted and pushed to every listener
        # (/liveai/control/dropped), and the engine plays on
        floods = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(300)]
        status = build("/liveai/status")
        for f in floods:
            f.sendto(status, ("127.0.0.1", port))
        for f in floods:
            f.close()
        assert int(seen("/liveai/control/dropped", start=mark).split()[-1]) > 0
        got = {dump_address(s) for s in dump.lines[mark:]}
        assert {f"/liveai/{part}/note" for part in BAND_PARTS} <= got, got
        # a bad value: /liveai/error to the port this host named, nothing else changes
        mark = len(dump.lines)
        send("/liveai/tempo", 999.0, types="f")
        err = seen("/liveai/error", start=mark)
        assert "outside" in err
        mark = len(dump.lines)
        send("/liveai/get/tempo", d, types="i")
        assert "150" in seen("/liveai/tempo", start=mark)  # the example tempo stands

        assert sent >= {a.path for a in TABLE if a.incoming}, "some in-addresses were never sent"
        got = {dump_address(s) for s in dump.lines}
        missing = sorted(a.path for a in TABLE if a.outgoing and a.path not in got)
        assert not missing, f"oscdump never received {missing}"
        errors = [s for s in dump.lines if dump_address(s) == "/liveai/error"]
        assert len(errors) == 1, errors
        assert engine["proc"].proc.poll() is None  # still up
    finally:
        dump.stop()


def _bundle_ntp(data: bytes) -> float:
    sec, frac = struct.unpack(">II", data[8:16])
    return sec - 2208988800 + frac / 2 ** 32


@need
def test_notes_go_out_as_timetagged_bundles(engine):
    port, sock = engine["port"], engine["bundles"]
    """Each band note goes out 50 ms early, timetagged with the time it is due: the tags lie on the
    16th-note grid (75 ms at 200 BPM) to well under a millisecond, whatever the sender's jitter."""
    oscsend(port, "/liveai/player/note", 60, 90, types="ii")  # the band joins at the next 16th
    got = []
    deadline = time.monotonic() + 5
    while len(got) < 12 and time.monotonic() < deadline:
        data, _ = sock.recvfrom(65536)
        got.append((time.time(), data))
    now, data = got[0]
    assert data.startswith(b"#bundle\x00")
    assert 0.02 < _bundle_ntp(data) - now < 0.08  # sent about 50 ms before it is due
    size = struct.unpack(">i", data[16:20])[0]
    inner = data[20:20 + size]
    assert inner.split(b"\x00")[0].decode() in {f"/liveai/{p}/note" for p in PARTS}
    tags = [_bundle_ntp(d) for _, d in got if d.startswith(b"#bundle\x00")]
    off_grid = [abs(((t - tags[0]) / 0.075) - round((t - tags[0]) / 0.075)) * 75.0 for t in tags]
    print(f"\n{len(tags)} bundles; timetag off the 16th grid: max {max(off_grid):.4f} ms")
    assert len(tags) >= 6 and max(off_grid) < 0.5, off_grid


def test_oscquery_serves_the_table_over_http(engine):
    base = f"http://127.0.0.1:{engine['http']}"
    with urllib.request.urlopen(base + "/", timeout=5) as r:
        assert r.headers["Content-Type"] == "application/json"
        root = json.load(r)
    for a in TABLE:
        node = root
        for name in a.path.strip("/").split("/"):
            node = node["CONTENTS"][name]
        assert node["FULL_PATH"] == a.path and "TYPE" in node and "RANGE" in node and "ACCESS" in node
    assert root["CONTENTS"]["liveai"]["CONTENTS"]["tempo"]["VALUE"] == [200.0]
    with urllib.request.urlopen(base + "/?HOST_INFO", timeout=5) as r:
        info = json.load(r)
    assert info["OSC_PORT"] == engine["port"] and info["OSC_TRANSPORT"] == "UDP"
    with urllib.request.urlopen(base + "/liveai/bass/channel?RANGE", timeout=5) as r:
        assert json.load(r) == {"RANGE": [{"MIN": 1, "MAX": 16}]}
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(base + "/liveai/nope", timeout=5)
    assert e.value.code == 404
