"""liveai.io.osc: the control port is ours alone (issue 12 item 5)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from liveai.io.osc import OscServer, build

REPO = Path(__file__).resolve().parents[2]


def test_a_second_server_on_the_same_port_fails_naming_the_port():
    first = OscServer(0)
    try:
        with pytest.raises(RuntimeError, match=rf"OSC port {first.port}\b.*--osc-port"):
            OscServer(first.port)
    finally:
        first.sock.close()


def test_a_second_engine_on_the_same_port_exits_2_naming_it(tmp_path):
    first = OscServer(0)
    try:
        p = subprocess.run([sys.executable, "-m", "liveai", "run", "--no-midi", "--osc-port", str(first.port),
                            "--oscquery-port", "-1", "--no-realtime"], cwd=tmp_path, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the second engine started on a port already in use")
    finally:
        first.sock.close()
    assert p.returncode == 2
    assert f"OSC port {first.port}" in p.stderr and "Traceback" not in p.stderr


def test_a_note_datagram_is_built_only_for_an_osc_output_that_sends_it():
    """Issue 25: no OSC work on the way to MIDI; the datagram is built when an OSC output sends it."""
    import socket as _socket

    from liveai.io.output import OutEvent, osc_note_datagram
    from liveai.io.osc import OscOutput
    osc_note_datagram.cache_clear()
    ev = OutEvent.note_on(0, 61, 99, "bass")
    nobody = OscOutput([])
    nobody.send(ev)
    assert osc_note_datagram.cache_info().currsize == 0  # nobody listening: nothing built
    rx = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2.0)
    out = OscOutput([rx.getsockname()])
    try:
        out.send(ev)
        out.send(OutEvent.note_off(0, 61, "bass"))
        assert rx.recv(512) == build("/liveai/bass/note", 61, 99)
        assert rx.recv(512) == build("/liveai/bass/note", 61, 0)
        assert osc_note_datagram.cache_info().currsize == 2
        assert OutEvent.control(0, 64, 0).osc is None
    finally:
        out.close(), nobody.close(), rx.close()


def test_the_newest_of_a_latest_wins_address_survives_the_flood_limit():
    """Issue 29: a real UDP flood far over the server's rate: most is dropped and counted, but the
    newest message of a latest-wins address from each sender is handled once the flood pauses,
    so a fader's last value is never lost; other addresses are simply dropped."""
    import socket
    import threading
    import time
    from types import SimpleNamespace
    from liveai.io.osc import AddressTable
    spec = SimpleNamespace(args=())
    table = AddressTable({"/fader": spec, "/hit": spec}, lambda path, args: tuple(args), frozenset({"/fader"}))
    srv = OscServer(0, max_rate=200.0, table=table)
    got: list[tuple[str, tuple]] = []
    done = threading.Event()
    srv.on("/fader", lambda args, d: (got.append(("/fader", args)), args[0] == 1999 and done.set()))
    srv.on("/hit", lambda args, d: got.append(("/hit", args)))
    srv.start()
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        t0 = time.monotonic()
        for i in range(2000):  # 10,000 datagrams a second: 50 times the limit, not the kernel's buffer
            if i % 5 == 0:
                while time.monotonic() < t0 + i / 5000:
                    time.sleep(0.0002)
            tx.sendto(build("/fader", i), ("127.0.0.1", srv.port))
            tx.sendto(build("/hit", i), ("127.0.0.1", srv.port))
        t1 = time.monotonic()
        assert done.wait(2.0), got[-3:]
        landed = time.monotonic() - t1
    finally:
        tx.close()
        srv.stop()
    fader = [a[0] for p, a in got if p == "/fader"]
    print(f"\n4000 datagrams in {(t1 - t0) * 1000:.0f} ms: {len(got)} handled, {srv.rate_dropped} dropped, "
          f"{srv.deferred} held and handled; the last fader value {landed * 1000:.1f} ms after the flood")
    assert fader[-1] == 1999 and srv.deferred >= 1
    assert srv.rate_dropped > 1000 and len(got) < 1000
    assert fader == sorted(fader)  # never an older value after a newer one
