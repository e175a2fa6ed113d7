"""liveai.io.osc: the control port is ours alone (issue 12 item 5)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from liveai.io.osc import OscServer

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
