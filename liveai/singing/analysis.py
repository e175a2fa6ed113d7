"""Audio blocks to note events: decimation to ~16 kHz, framing every hop, a pitch tracker, the
segmenter. The same object serves the live analysis thread and offline scoring (tests, bench), so
what is measured is what runs."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from liveai.singing.segment import NoteEvent, Segmenter, SegmenterSettings

TARGET_SR = 16000


def lowpass_taps(cutoff: float, n: int = 63) -> np.ndarray:
    """Windowed-sinc low-pass FIR (cutoff as a fraction of the sample rate)."""
    m = np.arange(n) - (n - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * m) * np.blackman(n)
    return h / h.sum()


class Decimator:
    """Integer-factor decimation with an FIR anti-alias filter, streaming (keeps its state)."""

    def __init__(self, factor: int) -> None:
        self.k = factor
        self.taps = lowpass_taps(0.45 / factor) if factor > 1 else None
        self._hist = np.zeros(0 if self.taps is None else len(self.taps) - 1)
        self._phase = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.taps is None:
            return x
        buf = np.concatenate([self._hist, x])
        y = np.convolve(buf, self.taps, mode="valid")  # y[i] is aligned with buf[i + len(taps) - 1]
        self._hist = buf[len(buf) - (len(self.taps) - 1):]
        out = y[self._phase::self.k]
        self._phase = (self._phase - len(y)) % self.k
        return out


@dataclass
class VoiceSettings:
    tracker: str = "yin"  # yin | crepe
    hop_s: float = 0.004  # a frame every 4 ms: the block of our PortAudio input, so each block's frame
    # is analysed the moment it arrives (5 ms left up to 4 ms between a frame's end and its block)
    window_s: float = 0.012  # YIN's integration window: short enough for quick onsets, 2 periods of 165 Hz
    crepe_model: str | None = None  # path of crepe_tiny.onnx (default: models/)
    segmenter: SegmenterSettings = field(default_factory=SegmenterSettings)
    key: tuple[int, bool] | None = None  # a locked key for --voice-snap key


def make_tracker(name: str, sr: int, settings: VoiceSettings):
    from liveai.singing.yin import Yin, YinSettings
    lo = 440.0 * 2 ** ((settings.segmenter.low - 1 - 69) / 12)
    hi = 440.0 * 2 ** ((settings.segmenter.high + 1 - 69) / 12)
    if name == "yin":
        return Yin(sr, YinSettings(fmin=max(40.0, lo), fmax=min(sr / 4, hi), window_s=settings.window_s))
    if name == "crepe":
        from liveai.singing.crepe import CrepeTracker
        return CrepeTracker(sr, settings.crepe_model)
    raise ValueError(f"unknown voice tracker {name!r}; known: yin, crepe")


class VoiceAnalyzer:
    """Feed blocks of mono float audio at the input rate (`process`), with the time of the
    block's last sample; get note events back."""

    def __init__(self, input_sr: int, settings: VoiceSettings | None = None) -> None:
        self.settings = settings or VoiceSettings()
        self.input_sr = input_sr
        k = max(1, int(round(input_sr / TARGET_SR)))
        self.dec = Decimator(k)
        self.sr = input_sr / k
        self.tracker = make_tracker(self.settings.tracker, int(round(self.sr)), self.settings)
        self.frame_len = self.tracker.frame_len
        self.hop = max(1, int(round(self.settings.hop_s * self.sr)))
        self.seg = Segmenter(self.hop / self.sr, self.settings.segmenter, self.settings.key)
        self._buf = np.zeros(self.frame_len + 8 * self.hop, dtype=np.float64)
        self._fill = 0  # samples in _buf
        self._since_hop = 0
        # the window's centre lags its newest sample: onset estimates are moved back by this
        self.onset_lag = getattr(self.tracker, "onset_lag_s", 0.0)
        self.frames = 0
        self.gaps = 0
        self._level_n = min(self.frame_len, self.hop * 4)

    def process(self, block: np.ndarray, t_last: float) -> list[NoteEvent]:
        """t_last: time (s) of the block's last input sample."""
        y = self.dec(np.asarray(block, dtype=np.float64))
        events: list[NoteEvent] = []
        n = len(y)
        if n == 0:
            return events
        # frames end at each hop boundary inside y; each is tracked as soon as its hop is complete
        # (a frame-wise tracker reads a view of the buffer: no copy, no stacking)
        one = getattr(self.tracker, "frame", None)
        pos = 0
        frames, ends = [], []
        while pos < n:
            take = min(n - pos, self.hop - self._since_hop)
            self._push(y[pos:pos + take])
            pos += take
            self._since_hop += take
            if self._since_hop == self.hop:
                self._since_hop = 0
                if self._fill >= self.frame_len:
                    fr = self._buf[self._fill - self.frame_len:self._fill]
                    if one is None:
                        frames.append(fr.copy())
                        ends.append(pos)
                        continue
                    db = self._level(fr)
                    f0, aper = one(fr) if self.seg.wants_pitch(db) else (0.0, 1.0)
                    events += self._feed(t_last - (n - pos) / self.sr, f0, aper, db)
        if frames:  # a batch tracker (CREPE): one model run for the frames of this block
            fr = np.stack(frames)
            f0s, apers = self.tracker(fr)
            for i, e in enumerate(ends):
                events += self._feed(t_last - (n - e) / self.sr, float(f0s[i]), float(apers[i]), self._level(fr[i]))
        return events

    def _level(self, frame: np.ndarray) -> float:
        """Level (dBFS) of the frame's newest 20 ms."""
        w = frame[-self._level_n:]
        return 10 * math.log10(float(np.dot(w, w)) / len(w) + 1e-12)

    def _feed(self, t: float, f0: float, aper: float, db: float) -> list[NoteEvent]:
        self.frames += 1
        out = []
        for ev in self.seg.feed(t, f0, aper, db):
            if ev.on:
                ev = NoteEvent(ev.t, True, ev.note, ev.velocity, ev.onset - self.onset_lag)
            out.append(ev)
        return out

    def _push(self, x: np.ndarray) -> None:
        m = len(x)
        if self._fill + m > len(self._buf):
            keep = self.frame_len
            self._buf[:keep] = self._buf[self._fill - keep:self._fill]
            self._fill = keep
        self._buf[self._fill:self._fill + m] = x
        self._fill += m

    def gap(self, missing: int, t: float) -> list[NoteEvent]:
        """`missing` input samples never came before the next block (a missed audio cycle, or a
        reader that fell behind its ring); t: the time of the first of them. No frame may span
        the splice (it would hold a waveform nobody sang: a pitch jump, a level step), so the
        window fills again from the next block; the segmenter bridges the gap (Segmenter.gap)."""
        self.gaps += 1
        self.dec = Decimator(self.dec.k)
        self._fill = self._since_hop = 0
        return self.seg.gap(t, missing / self.input_sr)

    def flush(self, t: float) -> list[NoteEvent]:
        return self.seg.flush(t)


def analyze(audio: np.ndarray, sr: int, settings: VoiceSettings | None = None,
            block: int = 256) -> list[NoteEvent]:
    """Offline: run the live analysis over a whole take in blocks (times from 0 at sample 0)."""
    an = VoiceAnalyzer(sr, settings)
    events: list[NoteEvent] = []
    for i in range(0, len(audio), block):
        b = audio[i:i + block]
        events += an.process(b, (i + len(b) - 1) / sr)
    events += an.flush(len(audio) / sr)
    return events
