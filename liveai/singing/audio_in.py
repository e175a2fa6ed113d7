"""Audio input for the voice: JACK audio ports (JACK-Client) or ALSA/PulseAudio/PipeWire
(sounddevice, i.e. PortAudio), a lock-free ring buffer, and the analysis thread.

The audio callback only copies the block into a preallocated ring and notes how far it got and
when: no analysis, no allocation of note messages, no locks. A thread of ours reads the ring every
few milliseconds, runs the pitch tracker and the segmenter (liveai.singing.analysis) and hands note
messages to the engine's input exactly as a MIDI keyboard's arrive (Engine.post_input), so they
are recorded on the `player` track and reach every listener. Nothing of this runs on the engine's
loop or the sender.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

import mido
import numpy as np

from liveai.singing.analysis import VoiceAnalyzer, VoiceSettings
from liveai.singing.ring import RingBuffer

log = logging.getLogger(__name__)

CLIENT = "liveai-voice"
APIS = ("auto", "jack", "sounddevice")


class AudioUnavailable(RuntimeError):
    """No audio library, no audio server, or no device that matches."""


# ---------------------------------------------------------------------- backends
def _jack():
    try:
        import jack
    except (ImportError, OSError) as e:
        raise AudioUnavailable(f"JACK audio needs the audio extra (pip install 'liveai[audio]') and "
                               f"libjack: {e}") from None
    return jack


def _sounddevice():
    try:
        import sounddevice
    except (ImportError, OSError) as e:
        raise AudioUnavailable(f"audio input needs the audio extra (pip install 'liveai[audio]') and "
                               f"PortAudio (apt-get install libportaudio2): {e}") from None
    return sounddevice


def jack_running() -> bool:
    try:
        jack = _jack()
        c = jack.Client(f"{CLIENT}-probe", no_start_server=True)
    except Exception:
        return False
    c.close()
    return True


def list_audio_inputs(api: str = "auto") -> list[tuple[str, str]]:
    """(api, name) of every audio source: JACK output ports (capture and other programs) and
    PortAudio input devices."""
    out: list[tuple[str, str]] = []
    if api in ("auto", "jack") and jack_running():
        jack = _jack()
        c = jack.Client(f"{CLIENT}-probe", no_start_server=True)
        try:
            out += [("jack", p.name) for p in c.get_ports(is_audio=True, is_output=True)]
        finally:
            c.close()
    if api in ("auto", "sounddevice"):
        try:
            sd = _sounddevice()
            out += [("sounddevice", f"{d['name']} ({sd.query_hostapis(d['hostapi'])['name']})")
                    for d in sd.query_devices() if d["max_input_channels"] > 0]
        except AudioUnavailable as e:
            if api == "sounddevice":
                raise
            log.debug("%s", e)
        except Exception as e:  # PortAudio without any host API
            log.debug("sounddevice: %s", e)
    return out


class JackSource:
    """One JACK input port, connected to the first output port matching `wanted` (auto: the
    first physical capture port)."""

    def __init__(self, wanted: str, ring_seconds: float = 2.0) -> None:
        jack = _jack()
        try:
            self.client = jack.Client(CLIENT, no_start_server=True)
        except jack.JackError as e:
            raise AudioUnavailable(f"no JACK server to take audio from ({e})") from None
        try:
            self.sr = self.client.samplerate
            self.ring = RingBuffer(ring_seconds, self.sr)
            self.port = self.client.inports.register("voice")
            write, get, client = self.ring.write, self.port.get_array, self.client

            @self.client.set_process_callback
            def process(frames: int) -> None:  # JACK's thread: a copy and the cycle's first frame
                write(get(), client.last_frame_time)

            srcs = self.client.get_ports(is_audio=True, is_output=True)
            if wanted.lower() == "auto":
                phys = [p for p in srcs if p.is_physical]
                match = (phys or srcs)[:1]
            else:
                match = [p for p in srcs if wanted.lower() in p.name.lower()][:1]
            if not match:
                names = "\n  ".join(p.name for p in srcs) or "(none)"
                raise AudioUnavailable(f"no JACK audio output matches {wanted!r}; the ports there are:\n  {names}")
            self.client.activate()
            self.client.connect(match[0], self.port)
            self.name = f"{match[0].name} (jack, {self.sr} Hz)"
        except BaseException:
            self.client.close()
            raise

    def close(self) -> None:
        try:
            self.client.deactivate()
        finally:
            self.client.close()


class SoundDeviceSource:
    """A PortAudio input device matched by substring (auto: the default input), opened at 16 kHz
    where the device allows (ALSA's plug layer, PulseAudio and PipeWire resample), mono."""

    def __init__(self, wanted: str, ring_seconds: float = 2.0, sr: int = 16000) -> None:
        sd = _sounddevice()
        try:
            devs = sd.query_devices()
        except Exception as e:
            raise AudioUnavailable(f"PortAudio found no audio system: {e}") from None
        ins = [(i, d) for i, d in enumerate(devs) if d["max_input_channels"] > 0]
        if wanted.lower() == "auto":
            try:
                idx = sd.default.device[0]
                idx = idx if idx is not None and idx >= 0 else (ins[0][0] if ins else None)
            except Exception:
                idx = ins[0][0] if ins else None
        else:
            idx = next((i for i, d in ins if wanted.lower() in d["name"].lower()), None)
        if idx is None:
            names = "\n  ".join(d["name"] for _, d in ins) or "(none)"
            raise AudioUnavailable(f"no audio input device matches {wanted!r}; the inputs there are:\n  {names}")
        for rate in (sr, int(devs[idx]["default_samplerate"])):
            try:
                sd.check_input_settings(device=idx, channels=1, samplerate=rate)
                break
            except Exception:
                continue
        self.sr = rate
        self.ring = RingBuffer(ring_seconds, rate)
        write = self.ring.write

        def callback(indata, frames, time_info, status) -> None:  # PortAudio's thread: a copy
            write(indata[:, 0])

        try:
            self.stream = sd.InputStream(device=idx, channels=1, samplerate=rate, dtype="float32",
                                         blocksize=int(rate * 0.004), latency="low", callback=callback)
            self.stream.start()
        except Exception as e:
            raise AudioUnavailable(f"could not open audio input {devs[idx]['name']!r}: {e}") from None
        self.name = f"{devs[idx]['name']} (sounddevice, {rate} Hz)"

    def close(self) -> None:
        try:
            self.stream.stop()
        finally:
            self.stream.close()


def open_source(wanted: str, api: str = "auto"):
    if api not in APIS:
        raise AudioUnavailable(f"unknown audio API {api!r}; choose one of {', '.join(APIS)}")
    if api == "jack" or (api == "auto" and jack_running()):
        try:
            return JackSource(wanted)
        except AudioUnavailable:
            if api == "jack":
                raise
    return SoundDeviceSource(wanted)


# ---------------------------------------------------------------------- the analysis thread
@dataclass
class VoiceStats:
    frames: int = 0
    notes: int = 0
    lost_samples: int = 0  # the reader fell more than the ring's length behind
    dropped_samples: int = 0  # the source missed cycles (its frame counter jumped): holes bridged
    repeated_samples: int = 0  # the source delivered a cycle twice: not analysed twice
    gaps: int = 0  # holes and losses the analysis was told of
    cpu_s: float = 0.0  # thread CPU time spent analysing
    wall_s: float = 0.0


class VoiceInput:
    """Sing to play: audio source -> ring -> analysis thread -> handler(mido.Message, time).

    Note-ons carry the estimated start of the sung note as their time (like a keyboard's key-down
    stamp); `sent` records (that time, the time the message was handed over) for latency checks.
    Times come from the source's sample count: the newest sample is stamped when its block
    arrived, and each older one is that many samples (holes included) earlier, however late the
    thread reads it. `start=False` leaves the thread unstarted: a test calls `step` itself."""

    POLL_S = 0.002  # how long the thread sleeps when the ring is drained: half a 4 ms block on average

    def __init__(self, source, handler: Callable[[mido.Message, float], None],
                 settings: VoiceSettings | None = None, channel: int = 0, start: bool = True) -> None:
        self.source = source
        self.handler = handler
        self.channel = channel
        self.name = source.name
        self.analyzer = VoiceAnalyzer(int(source.sr), settings)
        self.stats = VoiceStats()
        self.sent: list[tuple[float, float, int]] = []  # (onset estimate, handed over, note)
        self._running = True
        self._held: int | None = None
        self._pos = source.ring.stamp[0]
        self._thread = threading.Thread(target=self._loop, name="voice", daemon=True)
        if start:
            self._thread.start()

    def step(self) -> None:
        """Analyse what the ring has gained since the last step, piece by piece between the
        source's holes: the analyzer is told of each hole (it bridges it) instead of being handed
        audio spliced across it, and each piece is stamped by the samples after it, holes included."""
        ring, an, sr = self.source.ring, self.analyzer, float(self.source.sr)
        block, end, t_last, lost = ring.read(self._pos)
        start, self._pos = end - len(block), end
        holes = ring.holes_in(start, end) if len(block) else []

        def t_of(j: int) -> float:  # the time of sample j (a written position)
            return t_last - ((end - 1 - j) + sum(m for h, m in holes if h > j)) / sr

        pieces: list[tuple[int, int, int]] = []  # (first, end, samples missing before first)
        a, miss = start, lost
        for h, m in holes:
            if h > a:
                pieces.append((a, h, miss))
                a, miss = h, 0
            miss += m
        if end > a:
            pieces.append((a, end, miss))
        self.stats.lost_samples += lost
        self.stats.dropped_samples, self.stats.repeated_samples = ring.dropped, ring.repeated
        if lost:
            log.warning("voice analysis fell behind: %d samples skipped", lost)
        for a, b, miss in pieces:
            try:
                if miss:
                    self.stats.gaps += 1
                    for ev in an.gap(miss, t_of(a) - miss / sr):
                        self._emit(ev)
                for ev in an.process(block[a - start:b - start], t_of(b - 1)):
                    self._emit(ev)
            except Exception:
                log.exception("voice analysis failed on a block; skipped")
        self.stats.frames = an.frames

    def _loop(self) -> None:
        t_cpu0, t_wall0 = time.thread_time(), time.perf_counter()
        while self._running:
            self.step()
            self.stats.cpu_s = time.thread_time() - t_cpu0
            self.stats.wall_s = time.perf_counter() - t_wall0
            time.sleep(self.POLL_S)
        for ev in self.analyzer.flush(time.perf_counter()):
            self._emit(ev)

    def _emit(self, ev) -> None:
        if ev.on:
            msg = mido.Message("note_on", channel=self.channel, note=ev.note, velocity=ev.velocity)
            t = ev.onset
            self._held = ev.note
            self.stats.notes += 1
        else:
            msg = mido.Message("note_off", channel=self.channel, note=ev.note, velocity=0)
            t = ev.t
            self._held = None
        now = time.perf_counter()
        try:
            self.handler(msg, min(t, now))
        except Exception:
            log.exception("voice input handler failed")
        if ev.on:
            self.sent.append((ev.onset, now, ev.note))
            if len(self.sent) > 4096:
                del self.sent[:2048]

    def close(self) -> None:
        """Stop the thread (it sends the note-off of a held note), then close the device."""
        self._running = False
        if self._thread.is_alive():
            self._thread.join(2.0)
        if self._held is not None:  # the thread did not get to it
            try:
                self.handler(mido.Message("note_off", channel=self.channel, note=self._held, velocity=0),
                             time.perf_counter())
            except Exception:
                pass
        self.source.close()


def voice_settings_from(cfg) -> VoiceSettings:
    """VoiceSettings from a liveai Config's voice_* fields (absent fields: the defaults)."""
    from liveai.singing.segment import SegmenterSettings
    seg = SegmenterSettings(low=getattr(cfg, "voice_low", 36), high=getattr(cfg, "voice_high", 84),
                            snap=getattr(cfg, "voice_snap", "chromatic"))
    mn = getattr(cfg, "voice_min_note_ms", None)
    if mn:
        seg.onset_ms = float(mn)
        seg.onset_noisy_ms = max(seg.onset_noisy_ms, float(mn))
    key = None
    if getattr(cfg, "key", None):
        from liveai.music.input_map import parse_key
        k = parse_key(cfg.key)
        key = (k.tonic, bool(getattr(k, "minor", False)))
    return VoiceSettings(tracker=getattr(cfg, "voice_tracker", "yin"), segmenter=seg, key=key,
                         crepe_model=getattr(cfg, "voice_model", None))


def open_voice(cfg, handler: Callable[[mido.Message, float], None]) -> VoiceInput:
    """The voice input a Config asks for; AudioUnavailable with a clear message if it cannot be."""
    settings = voice_settings_from(cfg)
    source = open_source(cfg.audio_in, getattr(cfg, "audio_api", "auto"))
    try:
        return VoiceInput(source, handler, settings)
    except BaseException:
        source.close()
        raise
