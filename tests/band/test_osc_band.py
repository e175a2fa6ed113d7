"""The band driven over real OSC UDP: a running `liveai run --no-midi --band pop` process, liblo's
oscsend (or a plain UDP socket) to set energy, and the engine's own notes (/liveai/drums/note)
received on a UDP socket. Energy must change the variation within one bar."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from latency_bench.common import free_udp_port
from tests.integration.test_osc_control import Lines

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
TEMPO = 240.0  # a bar of 4/4 is 1 s


def send(port: int, path: str, *args) -> None:
    if shutil.which("oscsend"):
        types = "".join("f" if isinstance(a, float) else "i" if isinstance(a, int) else "s" for a in args)
        subprocess.run(["oscsend", "127.0.0.1", str(port), path, types, *map(str, args)], check=True, timeout=5)
        return
    b = OscMessageBuilder(path)
    for a in args:
        b.add_arg(a)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b.build().dgram, ("127.0.0.1", port))


def collect(sock: socket.socket, until: float) -> list[tuple[float, str, tuple]]:
    out = []
    while time.monotonic() < until:
        sock.settimeout(max(0.01, until - time.monotonic()))
        try:
            data = sock.recv(4096)
        except socket.timeout:
            break
        if data.startswith(b"#bundle"):
            continue
        m = OscMessage(data)
        out.append((time.monotonic(), m.address, tuple(m.params)))
    return out


def test_energy_changes_the_band_variation_within_one_bar():
    port, notes_port = free_udp_port(), free_udp_port()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", notes_port))
    proc = Lines([sys.executable, "-m", "liveai", "run", "--no-midi", "--band", "pop", "--generator", "rules",
                  "--start-now", "--tempo", str(TEMPO), "--osc-port", str(port), "--oscquery-port", "-1",
                  "--osc-out", f"127.0.0.1:{notes_port}", "--no-realtime"], cwd=REPO)
    try:
        proc.wait(lambda l: "ready in" in l, timeout=30)
        collect(sock, time.monotonic() + 1.2)  # the band is playing
        bar = 4 * 60.0 / TEMPO
        for energy, name, must, must_not in ((0.95, "full", 46, 37), (0.05, "sparse", 37, 38)):
            send(port, "/liveai/energy", energy)
            t0 = time.monotonic()
            got = collect(sock, t0 + 3.2 * bar)
            drums = [(t - t0, a[0]) for t, addr, a in got if addr == "/liveai/drums/note" and a[1] > 0]
            # from one bar after the change on (plus a beat of slack for timing), only the new variation
            later = [p for t, p in drums if t > bar + bar / 4]
            assert must in later, (name, drums)
            assert must_not not in later, (name, drums)
            first = min(t for t, p in drums if p == must)
            assert first < 2 * bar, (name, first)  # it appears in the first bar it can (its pattern's place)
    finally:
        proc.stop()
        sock.close()


def test_band_style_fill_and_section_over_osc():
    port, reply = free_udp_port(), free_udp_port()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", reply))
    proc = Lines([sys.executable, "-m", "liveai", "run", "--no-midi", "--generator", "rules", "--start-now",
                  "--tempo", str(TEMPO), "--osc-port", str(port), "--oscquery-port", "-1", "--no-realtime"], cwd=REPO)

    def ask(path: str) -> tuple:
        send(port, path, reply)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            for _, addr, args in collect(sock, time.monotonic() + 0.05):
                if addr == path.replace("/get", ""):
                    return args
        raise AssertionError(f"no answer to {path}")
    try:
        proc.wait(lambda l: "ready in" in l, timeout=30)
        assert ask("/liveai/get/band/style") == ("chorale",)
        send(port, "/liveai/band/fill")  # no band yet: an error (to the port named before), nothing changes
        assert any(addr == "/liveai/error" and "no band" in a[0] for _, addr, a in collect(sock, time.monotonic() + 1))
        send(port, "/liveai/band/style", "swing")
        time.sleep(0.2)
        assert ask("/liveai/get/band/style") == ("swing",)
        send(port, "/liveai/band/fill")
        deadline = time.monotonic() + 3
        seen = set()
        while time.monotonic() < deadline and "fill" not in seen:
            seen.add(ask("/liveai/get/band/section")[0])
            time.sleep(0.1)
        assert "fill" in seen
    finally:
        proc.stop()
        sock.close()
