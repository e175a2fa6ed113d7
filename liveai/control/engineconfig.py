"""What a Config says of the engine: its settings, and the chord model it names (built-in, none,
a path, or a player's own from `liveai learn`) with the planner settings its card asks for.

Both the Session (liveai.app.session) and the remote control's /liveai/model read a config this way,
so it lives here, below the wiring and beside the config.
"""
from __future__ import annotations

import logging
from typing import Any

from liveai.control.config import Config, ConfigError
from liveai.engine.settings import EngineSettings, PartMix
from liveai.harmony.planner import PlannerSettings
from liveai.music.input_map import parse_key
from liveai.music.meter import Meter

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
