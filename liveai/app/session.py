"""One session: the engine with its generators, modes, scheduler, sink and recorder, built from a Config.

The wiring that both the real-time run (liveai.app.run) and the simulated one share. The remote
control (liveai.control.remote) is bound to a Session but does not import it: control sits below
the wiring, which reads the config through liveai.control.engineconfig.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from liveai.band.generator import make_band
from liveai.control.config import Config
from liveai.control.engineconfig import load_chord_model, settings_from
from liveai.engine.core import Engine
from liveai.vocab import part_of
from liveai.engine.modes import CallResponse, Harmonizer, Silent
from liveai.generators import make_generator
from liveai.generators.rules import RulesAccompanist
from liveai.io.output import ListOutput, OutputDevice
from liveai.io.recorder import Recorder
from liveai.io.scheduler import Scheduler
from liveai.music.input_map import make_input_map, parse_key
from liveai.music.stylememory import StyleMemory
from liveai.timing.clock import Clock
from liveai.timing.tempo import TempoFollower
from liveai.music.meter import Meter

log = logging.getLogger(__name__)


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
    from liveai.io.programs import PartPrograms
    engine.programs = PartPrograms(getattr(cfg, "programs", None), getattr(cfg, "program_change", True))
    recorder = None
    if record:
        m = Meter.parse(cfg.meter)
        recorder = Recorder(sender, cfg.tempo, (m.beats, m.unit), tuple(dict.fromkeys(map(part_of, engine.voices))))
        scheduler.outputs.append(recorder)
        engine.on_player.append(recorder.player)
    engine.send_programs()  # every output (and the take) hears each part's instrument first
    return Session(cfg, control, sender, engine, scheduler, recorder, sink)
