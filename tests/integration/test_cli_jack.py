"""`liveai ports` and `liveai run` errors against a real JACK server: clear messages, no tracebacks."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

rtmidi = pytest.importorskip("rtmidi")

from .support import REPO  # noqa: E402

pytestmark = pytest.mark.integration

JACK = rtmidi.API_UNIX_JACK


def liveai(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "liveai", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


@pytest.fixture
def ends(jack_server):
    player = rtmidi.MidiOut(JACK, name="player")
    player.open_virtual_port("out")
    synth = rtmidi.MidiIn(JACK, name="synth")
    synth.open_virtual_port("in")
    yield
    for p in (player, synth):
        p.close_port()
        p.delete()


def test_ports_lists_jack_ports(ends):
    r = liveai("ports", "--midi-api", "jack")
    assert r.returncode == 0, r.stderr
    ins, _, outs = r.stdout.partition("MIDI outputs")
    assert "player" in ins and ":out" in ins, r.stdout
    assert "synth" in outs and ":in" in outs, r.stdout


@pytest.mark.parametrize("flag,what,listed", [("--midi-in", "input", "player"), ("--midi-out", "output", "synth")])
def test_run_unknown_port_lists_the_ports(ends, free_udp_port, flag, what, listed):
    other = {"--midi-in": ("--midi-out", "synth"), "--midi-out": ("--midi-in", "player")}[flag]
    r = liveai("run", "--midi-api", "jack", flag, "no-such-port", *other, "--generator", "rules",
               "--osc-port", str(free_udp_port()), "--osc-out", f"127.0.0.1:{free_udp_port()}")
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"no MIDI {what} port matches 'no-such-port'" in r.stderr
    assert listed in r.stderr
    assert "Traceback" not in r.stderr, r.stderr


def test_run_without_a_jack_server_says_so(jack_server, free_udp_port):
    r = liveai("run", "--midi-api", "jack", "--midi-in", "player", "--midi-out", "synth", "--generator", "rules",
               "--osc-port", str(free_udp_port()), "--osc-out", f"127.0.0.1:{free_udp_port()}",
               env={"JACK_DEFAULT_SERVER": "liveai-no-such-server", "JACK_NO_START_SERVER": "1"})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert "JACK server" in r.stderr and "liveai: error:" in r.stderr, r.stderr
