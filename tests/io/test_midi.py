"""MIDI port names as documented (under JACK too), and `liveai ports` without a MIDI system."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from liveai.io import midi as midi_io
from liveai.io.midi import client_name, midi_available

REPO = Path(__file__).resolve().parents[2]


def test_client_names_are_fixed_per_role():
    assert client_name("alsa", "in") == client_name("alsa", "out") == "liveai"
    assert client_name("jack", "out") == "liveai"
    assert client_name("jack", "in") == "liveai-in"
    assert client_name("jack", "clock") == "liveai-clock"


def test_ports_without_alsa_sequencer_says_so(monkeypatch):
    real = os.path.exists
    monkeypatch.setattr(midi_io.os.path, "exists", lambda p: False if p == "/dev/snd/seq" else real(p))
    assert "no ALSA sequencer" in midi_available("alsa")


@pytest.mark.skipif(os.path.exists("/dev/snd/seq"), reason="this machine has an ALSA sequencer")
def test_liveai_ports_with_no_alsa_suggests_jack_or_no_midi():
    r = subprocess.run([sys.executable, "-m", "liveai", "ports"], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "no ALSA sequencer" in r.stderr and "--midi-api jack" in r.stderr and "--no-midi" in r.stderr
    assert "MIDI inputs" not in r.stdout  # no empty lists that read as "no devices"


@pytest.mark.integration
def test_jack_port_names_are_the_documented_ones(jack_server, free_udp_port):
    from tests.integration.support import EngineProcess
    eng = EngineProcess("run", "--virtual", "--midi-api", "jack", "--no-realtime", "--osc-port", str(free_udp_port()),
                        "--oscquery-port", "-1", "--osc-out", f"127.0.0.1:{free_udp_port()}")
    try:
        _, banner = eng.wait_for_line("ready in", 30)
        ports = subprocess.run(["jack_lsp"], capture_output=True, text=True, timeout=10, check=True).stdout.split("\n")
        ours = sorted(p for p in ports if p.startswith("liveai"))
        assert ours == ["liveai-in:in", "liveai:out"], ours
        # the banner names exactly those ports
        said = re.findall(r"(liveai[\w-]*:\w+) \(virtual\)", banner)
        assert sorted(said) == ours, banner
        # and the README gives the same names for JACK
        readme = (REPO / "README.md").read_text()
        assert all(f"`{p}`" in readme for p in ours)
        assert "liveai-01" not in banner + "".join(ports)
        hint = eng.wait_for_line("to hear it", 5)[1]
        assert "liveai:out" in hint and "--synth" in hint
    finally:
        eng.signal()
        try:
            eng.wait(20)
        finally:
            eng.kill()
