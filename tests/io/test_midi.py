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
        eng.stop()


def _jack_ports() -> list[str]:
    return subprocess.run(["jack_lsp"], capture_output=True, text=True, timeout=10, check=True).stdout.split("\n")


def _wait(pred, timeout: float = 5.0) -> bool:
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.integration
def test_open_port_connects_by_substring_or_exact_name_and_keeps_midi_clock(jack_server):
    """One helper opens every port: virtual, by substring, by exact name; an input keeps MIDI clock
    (and drops active sensing)."""
    import rtmidi
    src, src_name = midi_io.open_port("output", "jack", "kbd-src")
    try:
        assert src_name == "liveai-kbd-src:kbd-src (virtual)"
        assert "liveai-kbd-src:kbd-src" in _jack_ports()
        exact = next(p for p in rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="probe").get_ports() if "kbd-src" in p)
        for connect, is_exact in (("KBD-SRC", False), (exact, True)):
            got: list[list[int]] = []
            inp, name = midi_io.open_port("input", "jack", "probe-in", connect, exact=is_exact)
            try:
                assert name == exact
                assert _wait(lambda: any("liveai-probe-in" in p for p in _jack_ports()))
                import time
                time.sleep(0.1)  # the connection takes effect a few periods later
                for msg in ([0xF8], [0xFE], [0x90, 60, 100]):
                    src.send_message(msg)
                assert _wait(lambda: (m := inp.get_message()) is not None and got.append(m[0]) is None
                             and got[-1] == [0x90, 60, 100])
                assert got == [[0xF8], [0x90, 60, 100]]  # clock kept, active sensing filtered
            finally:
                inp.close_port()
                inp.delete()
    finally:
        src.close_port()
        src.delete()


@pytest.mark.integration
def test_open_port_failure_leaves_no_client_behind(jack_server):
    with pytest.raises(midi_io.PortNotFound, match="no MIDI output port matches"):
        midi_io.open_port("output", "jack", "ghost", "no-such-port-anywhere")
    with pytest.raises(midi_io.PortNotFound, match="named"):
        midi_io.open_port("input", "jack", "ghost", "no-such-port-anywhere", exact=True)
    with pytest.raises(ValueError, match="direction"):
        midi_io.open_port("sideways", "jack", "ghost")
    assert not any("ghost" in p for p in _jack_ports())
    with pytest.raises(ValueError, match="unknown MIDI API"):
        midi_io.open_port("output", "nope", "ghost")


@pytest.mark.integration
def test_midi_input_and_output_share_the_helper(jack_server):
    """MidiOutput's virtual port feeds a MidiInput that connected by substring; under JACK the input
    polls (a thread of ours, no callback in JACK's process cycle)."""
    import threading
    got: list[tuple[str, int]] = []
    ev = threading.Event()
    out = midi_io.MidiOutput(midi_io.PortSpec("jack", None, True, "share-out"))
    try:
        inp = midi_io.MidiInput(midi_io.PortSpec("jack", "share-out", False, "share-in"),
                                lambda m, t: (got.append((m.type, m.note)), ev.set()))
        try:
            assert inp._poller is not None and inp._poller.is_alive()
            import time
            time.sleep(0.1)
            out.send_raw([0x90, 64, 90])
            assert ev.wait(5.0) and got == [("note_on", 64)]
        finally:
            inp.close()
    finally:
        out.close()
