"""The shared vocabulary: names and ranges every layer agrees on, and their checks.

Modes, generators, parts, default channels, clock sources and the tempo range used to live in
the modules that used them, so a reader (and an import) had to go through the engine or the
config to learn them; that is how the config -> sync -> osc -> address table -> config cycle
arose. This module imports nothing from liveai, so anything may import it.
"""
from __future__ import annotations

MODES: tuple[str, ...] = ("accompany", "call", "harmonize")
GENERATORS: tuple[str, ...] = ("model", "rules")
CLOCK_SOURCES: tuple[str, ...] = ("internal", "midi", "link")
LATENCY_OUTPUTS: tuple[str, ...] = ("midi", "osc", "clock")
SYNTH_AUDIO: tuple[str, ...] = ("jack", "pulseaudio", "pipewire", "alsa")

# 1-based MIDI channels, as a musician writes them in the config
DEFAULT_CHANNELS: dict[str, int] = {"bass": 2, "tenor": 3, "alto": 4, "melody": 5,
                                    "comp": 6, "pad": 7, "arp": 8, "drums": 10}
BAND_PARTS: tuple[str, ...] = ("comp", "pad", "arp", "drums")  # the parts only a band style plays (liveai.band)
PARTS: tuple[str, ...] = tuple(p for p in DEFAULT_CHANNELS if p not in BAND_PARTS)  # bass, tenor, alto, melody
DRUM_CHANNEL = 9  # 0-based: MIDI channel 10 (General MIDI drums)

MIN_BPM, MAX_BPM = 20.0, 400.0  # every tempo: set, tapped, followed from MIDI clock or Link


def check_tempo(bpm: float) -> float:
    """A tempo in range, as float; a clear error otherwise (NaN included)."""
    bpm = float(bpm)
    if not (MIN_BPM <= bpm <= MAX_BPM):  # also rejects NaN
        raise ValueError(f"tempo must be between {MIN_BPM:g} and {MAX_BPM:g} BPM, not {bpm}")
    return bpm


def clamp_tempo(bpm: float) -> float:
    """A measured tempo (clock follower, Link) pulled into range rather than refused."""
    return min(MAX_BPM, max(MIN_BPM, bpm))


def check_mode(mode: str, modes: tuple[str, ...] = MODES) -> str:
    if mode not in modes:
        raise ValueError(f"unknown mode {mode!r}; known modes: {', '.join(modes)}")
    return mode


def check_generator(name: str) -> str:
    if name not in GENERATORS:
        raise ValueError(f"unknown generator {name!r}; known generators: {', '.join(GENERATORS)}")
    return name


def check_clock_source(name: str) -> str:
    if name not in CLOCK_SOURCES:
        raise ValueError(f"unknown clock source {name!r}; choose one of {', '.join(CLOCK_SOURCES)}")
    return name


def check_latency(latency: dict[str, float]) -> dict[str, float]:
    """{'midi': ms, 'osc': ms, 'clock': ms}: each output's offset, 0..500 ms."""
    out = {}
    for k, v in latency.items():
        if k not in LATENCY_OUTPUTS:
            raise ValueError(f"latency offset for unknown output {k!r}; known: {', '.join(LATENCY_OUTPUTS)}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 500.0:
            raise ValueError(f"latency offset of {k} must be 0..500 ms, not {v!r}")
        out[k] = float(v)
    return out


def part_of(voice: str) -> str:
    """The part (channel, mix, track) a voice plays in: 'comp.2' -> 'comp'; 'bass' -> 'bass'."""
    return voice.split(".", 1)[0]
