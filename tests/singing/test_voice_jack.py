"""End to end over real JACK audio (issue 17): a test client sings a synthesized tune into
`liveai run --audio-in singer` on the suite's private JACK server (dummy driver); the band plays
along; after SIGTERM (which must not hang) the session's .mid has the sung notes on the `player`
track and band notes beside them. And: a missing audio device is a clear error while the MIDI
input path keeps working."""
from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import mido
import numpy as np
import pytest

jack = pytest.importorskip("jack")

from liveai.singing.synthetic import sing  # noqa: E402
from tests.integration.support import EngineProcess, OscPeer  # noqa: E402

pytestmark = pytest.mark.integration

TUNE = [60, 62, 64, 65, 67, 65, 64, 62, 60, 67]


class Singer:
    """A JACK client with one audio output that plays a buffer once `play` is called."""

    def __init__(self, audio: np.ndarray, name: str = "singer") -> None:
        self.client = jack.Client(name, no_start_server=True)
        self.port = self.client.outports.register("out")
        self.audio = audio
        self.pos = -1  # not playing
        self.done = threading.Event()

        @self.client.set_process_callback
        def process(frames: int) -> None:
            buf = self.port.get_array()
            if self.pos < 0:
                buf.fill(0.0)
                return
            chunk = self.audio[self.pos:self.pos + frames]
            buf[:len(chunk)] = chunk
            buf[len(chunk):] = 0.0
            self.pos += frames
            if self.pos >= len(self.audio):
                self.done.set()

        self.client.activate()
        self.name = f"{self.client.name}:out"

    def play(self) -> None:
        self.pos = 0

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def player_notes(path: Path) -> dict[str, list[int]]:
    mf = mido.MidiFile(path)
    out: dict[str, list[int]] = {}
    for tr in mf.tracks:
        name = next((m.name for m in tr if m.type == "track_name"), "?")
        out[name] = [m.note for m in tr if m.type == "note_on" and m.velocity > 0]
    return out


def test_a_sung_tune_over_jack_audio_is_played_and_recorded_on_the_player_track(jack_server, tmp_path, free_udp_port):
    rng = np.random.default_rng(11)
    take = sing(TUNE, rng, tempo=110.0, snr_db=30.0, legato=0.0, consonants=0.3)
    probe = jack.Client("probe", no_start_server=True)
    sr = probe.samplerate
    probe.close()
    t16 = np.arange(len(take.audio)) / take.sr
    audio = np.interp(np.arange(int(len(t16) * sr / take.sr)) / sr, t16, take.audio).astype(np.float32)
    singer = Singer(audio)
    peer = OscPeer()
    out = tmp_path / "rec"
    eng = EngineProcess("run", "--no-midi", "--audio-in", "singer", "--audio-api", "jack", "--generator", "rules",
                        "--tempo", "110", "--record", str(out), "--osc-port", str(free_udp_port()),
                        "--osc-out", f"127.0.0.1:{peer.port}", "--oscquery-port", "-1", "--no-realtime")
    try:
        eng.wait_for_line("liveai: voice in singer:out", timeout=30)
        eng.wait_for_line("liveai: ready", timeout=30)
        singer.play()
        assert singer.done.wait(60), "the singer's buffer did not play out"
        time.sleep(0.5)
        t0 = time.monotonic()
        eng.signal(signal.SIGTERM)
        assert eng.wait(15) == 0, eng.output[-3000:]
        assert time.monotonic() - t0 < 8.0, "stopping took too long"
    finally:
        eng.kill()
        singer.close()
        peer.close()
    files = list(out.glob("*.mid"))
    assert len(files) == 1, eng.output[-2000:]
    tracks = player_notes(files[0])
    sung = tracks.get("player", [])
    # the tune, in order; a scoop may add a short provisional note a semitone under (replaced
    # within settle_ms: the F1 tests bound how often), nothing else
    it = iter(sung)
    assert all(any(n == p for n in it) for p in TUNE), f"sung {TUNE}, player track {sung}"
    assert len(sung) <= len(TUNE) + 4, sung
    band = sum(len(v) for k, v in tracks.items() if k not in ("player", "liveai"))
    assert band >= 10, f"the band did not play along: {tracks}"
    print(f"\nsung {TUNE}\nplayer track {sung}\nband notes {band}")


def test_a_missing_audio_device_is_a_clear_error_and_midi_still_plays(jack_server, tmp_path, free_udp_port):
    rtmidi = pytest.importorskip("rtmidi")
    player = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="keys")
    player.open_virtual_port("out")
    out = tmp_path / "rec"
    eng = EngineProcess("run", "--midi-api", "jack", "--midi-in", "keys", "--audio-in", "no-such-microphone",
                        "--audio-api", "jack", "--generator", "rules", "--record", str(out),
                        "--osc-port", str(free_udp_port()), "--oscquery-port", "-1", "--no-realtime")
    try:
        _, line = eng.wait_for_line("voice input off", timeout=30)
        assert "no-such-microphone" in line and "no JACK audio output matches" in line
        eng.wait_for_line("liveai: ready", timeout=30)
        for p in (60, 64, 67, 72):
            player.send_message([0x90, p, 90])
            time.sleep(0.15)
            player.send_message([0x80, p, 0])
        time.sleep(0.5)
        eng.signal(signal.SIGTERM)
        assert eng.wait(15) == 0, eng.output[-3000:]
    finally:
        eng.kill()
        player.close_port()
        player.delete()
    tracks = player_notes(next(out.glob("*.mid")))
    assert tracks.get("player") == [60, 64, 67, 72], tracks
