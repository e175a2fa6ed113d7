"""The audio input's parts that need no sound card: the ring buffer, clear errors for a missing
device or library, the voice flags and `liveai ports --audio`."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from liveai.control.config import ConfigError, make_config
from liveai.singing.audio_in import AudioUnavailable, RingBuffer, SoundDeviceSource, VoiceInput, voice_settings_from
from liveai.singing.segment import parse_range


def test_ring_buffer_wraps_and_reports_what_a_slow_reader_lost():
    r = RingBuffer(0.001, 16000)  # rounded up to 1024 samples
    assert r.size == 1024
    data = np.arange(3000, dtype=np.float32)
    pos = 0
    r.write(data[:700])
    got, pos, _, lost = r.read(pos)
    assert lost == 0 and np.array_equal(got, data[:700])
    r.write(data[700:1500])  # wraps
    got, pos, _, lost = r.read(pos)
    assert lost == 0 and np.array_equal(got, data[700:1500])
    r.write(data[1500:3000])  # 1500 > 1024: the oldest 476 are gone
    got, pos, _, lost = r.read(pos)
    assert lost == 476 and np.array_equal(got, data[1976:3000]) and pos == 3000


class FakeSource:
    """A source whose ring we fill ourselves (the analysis thread is the real one)."""

    def __init__(self, sr: int = 16000) -> None:
        self.sr, self.name, self.ring, self.closed = sr, "fake", RingBuffer(2.0, sr), False

    def close(self) -> None:
        self.closed = True


def test_voice_input_thread_sends_note_on_and_off_and_stops_promptly():
    import threading
    import time
    src = FakeSource()
    got = []
    lock = threading.Lock()

    def handler(msg, t):
        with lock:
            got.append((msg.type, msg.note, t))

    vi = VoiceInput(src, handler)
    t = np.arange(int(0.4 * 16000)) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    for i in range(0, len(tone), 64):  # as an audio callback would: small blocks
        src.ring.write(tone[i:i + 64])
        time.sleep(0.001)
    time.sleep(0.1)
    t0 = time.perf_counter()
    vi.close()
    assert time.perf_counter() - t0 < 1.0 and src.closed
    types = [(k, n) for k, n, _ in got]
    assert types == [("note_on", 57), ("note_off", 57)], got
    assert vi.stats.frames > 0 and vi.sent and vi.sent[0][1] >= vi.sent[0][0]


def test_a_missing_sound_card_is_a_clear_error():
    """In a process of its own: PortAudio, once initialised, connects to any JACK server running and
    aborts at interpreter exit if that server has gone by then (the suite's JACK server stops at the
    end of the session), which would kill the test process after the last test."""
    pytest.importorskip("sounddevice")
    code = ("from liveai.singing.audio_in import AudioUnavailable, SoundDeviceSource\n"
            "import sounddevice\n"
            "try:\n"
            "    SoundDeviceSource('no-such-mic')\n"
            "except AudioUnavailable as e:\n"
            "    print('ERROR', e)\n"
            "finally:\n"
            "    while sounddevice._initialized:\n"
            "        sounddevice._terminate()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert re.search(r"ERROR .*(no audio input device matches 'no-such-mic'|PortAudio)", r.stdout), r.stdout


def test_voice_options_reach_the_segmenter():
    cfg = make_config(None, {"voice_low": 48, "voice_high": 72, "voice_snap": "key", "key": "D",
                             "voice_min_note_ms": 40.0})
    s = voice_settings_from(cfg)
    assert (s.segmenter.low, s.segmenter.high, s.segmenter.snap, s.key) == (48, 72, "key", (2, False))
    assert s.segmenter.onset_ms == 40.0
    assert parse_range("C3-G5") == (48, 79) and parse_range("40-60") == (40, 60)
    with pytest.raises(ValueError):
        parse_range("G5-C3")
    with pytest.raises(ConfigError):
        make_config(None, {"voice_tracker": "nope"})


def test_ports_audio_lists_or_explains():
    r = subprocess.run([sys.executable, "-m", "liveai", "ports", "--audio"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "audio inputs" in r.stdout


def test_the_default_config_runs_the_measured_segmenter():
    """latency_bench and the accuracy tests use SegmenterSettings' defaults; `liveai run` builds its
    settings from the config: with no voice options they must be the same settings."""
    from liveai.singing.analysis import VoiceSettings
    from liveai.singing.segment import SegmenterSettings
    s = voice_settings_from(make_config(None, {}))
    assert s.segmenter == SegmenterSettings()
    assert (s.tracker, s.hop_s, s.window_s) == (VoiceSettings().tracker, VoiceSettings().hop_s, VoiceSettings().window_s)
