"""patches/liveai.pd in headless Pure Data against a running engine (`liveai demo --no-midi`): the
patch prints a "note" line for the engine's notes, and its tempo and mode controls change the
engine's tempo and mode (driven through the patch's own script hook, FUDI on UDP, which sets the
same number and symbol boxes a user clicks), with the engine's feedback coming back to the patch.

The patch's ports are set on the command line (-send "liveai-ports CONTROL NOTES HOOK"), so the test
uses free ports; without -send the patch uses 9000, 9001 and 9003."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from liveai.vocab import MODES
from latency_bench.common import free_udp_port
from tests.integration.test_osc_control import Lines

pytestmark = [pytest.mark.integration, pytest.mark.skipif(shutil.which("pd") is None, reason="Pure Data not installed")]
REPO = Path(__file__).resolve().parents[2]
NOTE = re.compile(r"^note: (bass|tenor|alto|melody) (\d+) (\d+)$")


def osc(address: str, *ints: int) -> bytes:
    b = OscMessageBuilder(address=address)
    for i in ints:
        b.add_arg(i, "i")
    return b.build().dgram


def wait_osc(sock: socket.socket, address: str, value, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, _ = sock.recvfrom(65536)
        except socket.timeout:
            break
        for m in OscPacket(data).messages:
            seen.append((m.message.address, m.message.params))
            if m.message.address == address and m.message.params and m.message.params[0] == value:
                return
    raise AssertionError(f"engine never reported {address} {value}; saw {seen[-10:]}")


def test_pd_prints_engine_notes_and_its_controls_drive_tempo_and_mode(tmp_path):
    port, notes, hook = free_udp_port(), free_udp_port(), free_udp_port()
    engine = Lines([sys.executable, "-m", "liveai", "demo", "--no-midi", "--generator", "rules", "--tempo", "200",
                    "--osc-port", str(port), "--osc-out", f"127.0.0.1:{notes}", "--oscquery-port", "-1"],
                   cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    watch = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the engine's own view, through its feedback
    watch.bind(("127.0.0.1", 0))
    pd = None
    try:
        engine.wait(lambda s: "ready in" in s, timeout=30)
        watch.sendto(osc("/liveai/listen/tempo"), ("127.0.0.1", port))
        wait_osc(watch, "/liveai/tempo", 200.0)
        watch.sendto(osc("/liveai/listen/mode"), ("127.0.0.1", port))
        wait_osc(watch, "/liveai/mode", "accompany")

        pd = Lines(["pd", "-nogui", "-stderr", "-noaudio", "-nomidi", "-send", f"liveai-ports {port} {notes} {hook}",
                    "-open", str(REPO / "patches" / "liveai.pd")], cwd=tmp_path)
        for _ in range(3):  # notes of the running engine, printed by the patch
            n = len(pd.lines)
            pd.wait(lambda s: bool(NOTE.match(s)), timeout=15, start=n)
        pd.wait(lambda s: s == "tempo: 200", timeout=10)  # the patch's own subscription works

        mode = next(m for m in reversed(MODES) if m != "accompany") if len(MODES) > 1 else "accompany"
        ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ctl.sendto(b"tempo 150;\n", ("127.0.0.1", hook))  # the patch's tempo box
        wait_osc(watch, "/liveai/tempo", 150.0)
        ctl.sendto(f"mode {mode};\n".encode(), ("127.0.0.1", hook))  # the patch's mode box
        wait_osc(watch, "/liveai/mode", mode)
        ctl.close()
        pd.wait(lambda s: s == "tempo: 150", timeout=10)  # feedback shown in the patch
        pd.wait(lambda s: s == f"mode: {mode}", timeout=10)
        n = len(pd.lines)
        pd.wait(lambda s: bool(NOTE.match(s)), timeout=15, start=n)  # and the notes go on
        assert not [s for s in pd.lines if s.startswith("error") or "liveai-error" in s], pd.lines[-20:]
    finally:
        if pd is not None:
            pd.stop()
        engine.stop(signal.SIGINT)
        watch.close()


def _udp_binds(port: int) -> list[str]:
    """Local addresses (hex, as in /proc/net/udp) of the UDP sockets bound to port."""
    out = []
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        local = line.split()[1]
        addr, p = local.split(":")
        if int(p, 16) == port:
            out.append(addr)
    return out


@pytest.mark.skipif(not Path("/proc/net/udp").exists(), reason="needs /proc/net/udp")
@pytest.mark.parametrize("ports", ["default", "sent"])
def test_the_fudi_script_hook_listens_on_localhost_only(tmp_path, ports):
    """Issue 12 item 10: the FUDI hook drives the controls, so it must not be open to the network
    (the engine binds 127.0.0.1 and checks --osc-allow; the patch's hook bypassed both)."""
    hook = 9003 if ports == "default" else free_udp_port()
    if ports == "default" and _udp_binds(9003):
        pytest.skip("port 9003 is in use here")
    args = [] if ports == "default" else ["-send", f"liveai-ports {free_udp_port()} {free_udp_port()} {hook}"]
    pd = Lines(["pd", "-nogui", "-stderr", "-noaudio", "-nomidi", *args, "-open", str(REPO / "patches" / "liveai.pd")],
               cwd=tmp_path)
    try:
        deadline = time.monotonic() + 15
        while not _udp_binds(hook) and time.monotonic() < deadline:
            time.sleep(0.1)
        binds = _udp_binds(hook)
    finally:
        pd.proc.send_signal(signal.SIGTERM)
        try:
            pd.proc.wait(5)
        except Exception:
            pd.proc.kill()
    assert binds == ["0100007F"], f"FUDI port {hook} bound to {binds} (0100007F is 127.0.0.1)"
