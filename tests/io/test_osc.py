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
