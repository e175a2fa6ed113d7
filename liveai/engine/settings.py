"""What the engine is told (EngineSettings, PartMix) and what it counts (EngineStats).

Plain dataclasses with no behaviour, apart from the engine so that the config, the control and the
tests can build settings without importing the engine's moving parts.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from liveai.generators.base import LOOKAHEAD_STEPS
from liveai.harmony.planner import PlannerSettings
from liveai.music.meter import Meter
from liveai.vocab import DEFAULT_CHANNELS, PARTS


@dataclass
class EngineSettings:
    """What the engine needs to know to play (the config module fills it from TOML and flags)."""

    tempo: float = 120.0
    meter: Meter = field(default_factory=Meter)
    mode: str = "accompany"
    channels: dict[str, int] = field(default_factory=lambda: {p: DEFAULT_CHANNELS[p] for p in PARTS})
    thru: bool = False
    start_now: bool = False
    lookahead_steps: int = LOOKAHEAD_STEPS
    idle_bars: float = 2.0
    density: float = 1.0
    key_lock: int | None = None
    commit_margin: float = 0.002  # seconds before a step's time by which its notes are committed
    temperature: float = 1.0  # the generators' sampling temperature (set over OSC; saved by /liveai/config/save)
    style_blend: float = 0.0  # how much the call mode's answers lean on the learnt style (idem)
    external_clock: bool = False  # the transport follows a clock source (MIDI clock, Link), not the first note
    # a band's held parts (pad, ringing comp) sound this long after the beat: a downbeat note heard
    # meanwhile still changes their chord in place (0: on the beat, and such a note cuts them)
    bloom_ms: float = 20.0
    humanize_ms: float = 0.0  # standard deviation of timing variation (0: off)
    humanize_velocity: float = 0.0  # standard deviation of velocity variation (0: off)
    swing: float = 0.0  # 0 straight .. 1 full triplet swing of off-beat 8ths (and 16ths)
    swing_unit: int = 2  # steps: 2 swings 8ths, 1 swings 16ths
    follow_tempo: bool = False
    seed: int = 0
    mix: dict[str, PartMix] = field(default_factory=dict)  # per part; absent = PartMix()
    harmony: PlannerSettings = field(default_factory=PlannerSettings)  # the chord plan


@dataclass
class PartMix:
    """How one engine part is heard (OSC /liveai/<part>/mute, volume, octave); the channel is in
    EngineSettings.channels."""

    mute: bool = False
    volume: float = 1.0  # velocity scale; 0 is silent
    octave: int = 0


@dataclass
class EngineStats:
    steps: int = 0
    primary_steps: int = 0
    fallback_steps: int = 0
    late_steps: int = 0
    errors: int = 0
    bad_input: int = 0
