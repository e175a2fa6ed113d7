"""One session: the engine with its generators, modes, scheduler, sink and recorder, built from a Config.

The wiring that both the real-time run (liveai.app) and the simulated one share, and the Session
type the remote control (liveai.control.remote) is bound to; it lives here, below both, so that
neither imports the other's caller.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from liveai.band.generator import make_band
from liveai.control.config import Config, ConfigError
from liveai.engine.core import Engine, EngineSettings, PartMix
from liveai.vocab import part_of
from liveai.engine.modes import CallResponse, Harmonizer, Silent
from liveai.generators import make_generator
from liveai.generators.rules import RulesAccompanist
from liveai.harmony.planner import PlannerSettings
from liveai.io.output import ListOutput, OutputDevice
from liveai.io.recorder import Recorder
from liveai.io.scheduler import Scheduler
from liveai.music.input_map import make_input_map, parse_key
from liveai.music.style import StyleMemory
from liveai.timing.clock import Clock
from liveai.timing.tempo import TempoFollower
from liveai.timing.transport import Meter

log = logging.getLogger(__name__)


def settings_from(cfg: Config, chord_model: Any = None) -> EngineSettings:
    """chord_model: the loaded one, whose card may say how much to trust it and how much the
    melody says (a personal model: chosen by `liveai learn` on the player's songs); cfg wins."""
    card = getattr(getattr(chord_model, "spec", None), "card", {})
    weight = cfg.chord_model_weight
    if weight is None:
        weight = float(card.get("model_weight", 1.0))
    evidence = float(card.get("evidence", PlannerSettings.evidence))
    key = parse_key(cfg.key) if cfg.key else None
    return EngineSettings(tempo=cfg.tempo, meter=Meter.parse(cfg.meter), mode=cfg.mode,
                          channels=dict(cfg.channels), thru=cfg.thru, start_now=cfg.start_now,
                          lookahead_steps=cfg.lookahead_steps, idle_bars=cfg.idle_bars, density=cfg.density,
                          key_lock=key.tonic if key else None, humanize_ms=cfg.humanize_ms,
                          humanize_velocity=cfg.humanize_velocity, swing=cfg.swing,
                          follow_tempo=cfg.follow_tempo, seed=cfg.seed,
                          mix={p: PartMix(cfg.mute.get(p, False), cfg.volume.get(p, 1.0), cfg.octave.get(p, 0))
                               for p in {*cfg.mute, *cfg.volume, *cfg.octave}},
                          external_clock=getattr(cfg, "clock", "internal") != "internal",
                          temperature=float(cfg.temperature), style_blend=float(cfg.style_blend),
                          harmony=PlannerSettings(harmonic_rhythm=cfg.harmonic_rhythm, split=cfg.split,
                                                  commit_beats=cfg.commit_beats,
                                                  model_weight=float(weight), evidence=evidence))


def load_chord_model(cfg: Config) -> Any:
    """The chord model the planner hears the melody with: the built-in one unless told otherwise.
    A path given that cannot be loaded is an error; the built-in one missing or broken is a
    warning (the hand-written planner plans alone). The rules generator keeps its own chords."""
    if cfg.generator != "model" or (cfg.chord_model or "").lower() == "none":
        return None
    try:
        from liveai.neural.chordmodel import ChordModel, DEFAULT_CHORD_MODEL_PATH
        if cfg.chord_model is None and not DEFAULT_CHORD_MODEL_PATH.exists():
            log.warning("built-in chord model %s not found: planning without it", DEFAULT_CHORD_MODEL_PATH)
            return None
        return ChordModel(cfg.chord_model)
    except Exception as e:
        if cfg.chord_model:
            raise ConfigError(f"cannot use chord model {cfg.chord_model}: {e}") from None
        log.warning("built-in chord model unavailable (%s): planning without it", e)
        return None


def chord_model_named(name: str, harmony: PlannerSettings, cfg: Config) -> tuple[Any, PlannerSettings]:
    """The chord model called name (builtin, none, or a player's own from `liveai learn`) and the
    planner settings to use it with (its card's trust and melody weight; cfg's trust wins)."""
    from dataclasses import replace
    from liveai.neural.chordmodel import ChordModel
    from liveai.neural.personal import find, models_dir
    if name == "none":
        return None, replace(harmony, model_weight=1.0, evidence=PlannerSettings.evidence)
    if name == "builtin":
        model = ChordModel()
    else:
        m = find(name)
        if m is None:
            raise ValueError(f"no model named {name!r} in {models_dir()} (liveai models lists them)")
        model = ChordModel(m.chords)
    h = settings_from(cfg, model).harmony
    return model, replace(harmony, model_weight=h.model_weight, evidence=h.evidence)


def add_modes(engine: Engine, cfg: Config) -> None:
    """Register call and harmonize beside accompany; set up input maps and tempo following."""
    style = StyleMemory.load(cfg.style) if cfg.style else None
    melody = None
    if cfg.generator == "model":
        try:
            from liveai.generators.neural import MelodyModel
            melody = MelodyModel(path=cfg.model, seed=cfg.seed)
        except Exception as e:  # no model: answers come from motif development and style alone
            log.info("call mode without the melody model: %s", e)
    call = CallResponse(seed=cfg.seed, gap_beats=cfg.call_gap_beats, max_bars=cfg.answer_max_bars,
                        style=style, blend=cfg.style_blend if style is not None else cfg.style_blend * 0.5,
                        melody_model=melody)
    engine.add_mode("call", call, call)
    silent = Silent(("bass", "tenor", "alto"))
    engine.add_mode("harmonize", silent, silent)
    engine.harmonizer = Harmonizer()
    if cfg.input_map:
        engine.input_map = make_input_map(cfg.input_map, parse_key(cfg.key or "C"))
    if cfg.follow_tempo:
        engine.tempo_follower = TempoFollower()
    mode = engine.settings.mode
    engine.settings.mode = "accompany"
    engine.set_mode(mode)


@dataclass
class Session:
    """One engine with everything around it."""

    cfg: Config
    control: Clock
    sender: Clock
    engine: Engine
    scheduler: Scheduler
    recorder: Recorder | None = None
    sink: ListOutput | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    osc: Any = None  # the OSC control (liveai.control.remote.Control) once attached


LIVE_SINK_EVENTS = 1024  # what a live session keeps of its own output (the last events), for inspection


def build_session(cfg: Config, control: Clock, sender: Clock, outputs: list[OutputDevice],
                  record: bool = False, keep_events: int | None = None) -> Session:
    """keep_events: how many of the engine's output events the session's sink keeps (None: all,
    for a simulated run; a live one keeps the last LIVE_SINK_EVENTS)."""
    generator = make_generator(cfg.generator, cfg.model, cfg.seed, cfg.temperature, cfg.top_p)
    fallback = generator if isinstance(generator, RulesAccompanist) else RulesAccompanist(seed=cfg.seed)
    sink = ListOutput(sender, keep=keep_events)
    scheduler = Scheduler(sender, [*outputs, sink])
    chord_model = load_chord_model(cfg)
    engine = Engine(control, scheduler, generator, fallback, settings_from(cfg, chord_model), chord_model=chord_model)
    add_modes(engine, cfg)
    band = make_band(getattr(cfg, "band", None), cfg.seed)
    if band is not None:
        engine.set_band(band)
    from liveai.view.programs import PartPrograms
    engine.programs = PartPrograms(getattr(cfg, "programs", None), getattr(cfg, "program_change", True))
    recorder = None
    if record:
        m = Meter.parse(cfg.meter)
        recorder = Recorder(sender, cfg.tempo, (m.beats, m.unit), tuple(dict.fromkeys(map(part_of, engine.voices))))
        scheduler.outputs.append(recorder)
        engine.on_player.append(recorder.player)
    engine.send_programs()  # every output (and the take) hears each part's instrument first
    return Session(cfg, control, sender, engine, scheduler, recorder, sink)
