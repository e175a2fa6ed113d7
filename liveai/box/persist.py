"""Configuration that persists: saved atomically on request (OSC /liveai/config/save), loaded at
start-up, and a broken file never stops the box: it logs a clear error and plays on the defaults.

Writes happen only on an explicit save (keep writes off the SD card: the Raspberry Pi documentation's advice for SD wear), through
liveai.io.safefile: a temporary file in the same directory, fsynced, then renamed over the old one, so a
power cut leaves either the old file or the new one, never half of one; a symlinked config updates
its target, and what is not a regular file is never replaced.
"""
from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

from liveai.io.safefile import write_file
from liveai.control.config import Config, ConfigError, load_toml, make_config

log = logging.getLogger(__name__)

ENV_PATH = "LIVEAI_CONFIG"
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def default_config_path() -> Path:
    """$LIVEAI_CONFIG, else $XDG_CONFIG_HOME/liveai/liveai.toml (~/.config/liveai/liveai.toml)."""
    if os.environ.get(ENV_PATH):
        return Path(os.environ[ENV_PATH]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "liveai" / "liveai.toml"


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ConfigError(f"cannot save the number {v}")
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise ConfigError(f"cannot save a {type(v).__name__} in TOML")


def _key(k: str) -> str:
    return k if _BARE.match(k) else _value(k)


def to_toml(cfg: Config, only_changed: bool = True) -> str:
    """The TOML text of cfg (keys that differ from the defaults, unless only_changed is False)."""
    base = Config()
    lines = ["# liveai configuration, written by /liveai/config/save; flags given on the command line override it"]
    tables = []
    for f in fields(Config):
        v = getattr(cfg, f.name)
        if v is None or (only_changed and v == getattr(base, f.name)):
            continue
        if isinstance(v, dict):
            tables.append(f"\n[{f.name}]\n" + "".join(f"{_key(k)} = {_value(x)}\n" for k, x in v.items()))
        else:
            lines.append(f"{f.name} = {_value(v)}")
    return "\n".join(lines) + "\n" + "".join(tables)


_PCS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def snapshot(cfg: Config, settings: Any | None = None, control: Any | None = None) -> Config:
    """cfg with the values the engine runs with now (tempo, mode, density... as changed over OSC):
    the engine's settings (their one owner: temperature and style blend included), the key lock,
    each part's mix and channel, and what the OSC control holds (the generator playing now, the band
    style, each part's program)."""
    data = {f.name: getattr(cfg, f.name) for f in fields(Config)}
    if settings is not None:
        for name in data:
            if hasattr(settings, name):
                v = getattr(settings, name)
                data[name] = str(v) if name == "meter" else (dict(v) if isinstance(v, dict) else v)
        if hasattr(settings, "key_lock"):
            from liveai.music.input_map import parse_key
            lock = settings.key_lock
            if lock != (parse_key(cfg.key).tonic if cfg.key else None):  # else the file's own spelling stays
                data["key"] = None if lock is None else _PCS[int(lock) % 12]
        mix = getattr(settings, "mix", None)
        if mix is not None:
            data["mute"] = {p: True for p, m in mix.items() if m.mute}
            data["volume"] = {p: float(m.volume) for p, m in mix.items() if m.volume != 1.0}
            data["octave"] = {p: int(m.octave) for p, m in mix.items() if m.octave}
    if control is not None:
        data["generator"] = str(control.value("generator")[0])
        eng = getattr(control, "engine", None)
        if eng is not None:
            # the chord model planning now (/liveai/model): a player's own by name, builtin or none
            name = getattr(eng, "chord_model_name", None) if getattr(eng, "chord_model_changed", False) else None
            if name == "none":
                data["chord_model"] = "none"
            elif name == "builtin":
                data["chord_model"] = None
            elif name:
                data["model"], data["chord_model"] = name, None
            # the band style playing (a name: one loaded from a file is saved only if switched live)
            band = getattr(eng, "band", None)
            data["band"] = str(band.style.name) if band is not None else None
            # every program chosen (config, --program, OSC); the defaults are not written out
            progs = getattr(eng, "programs", None)
            if progs is not None:
                data["programs"] = {p: (pr.program if not pr.bank else str(pr))
                                    for p in sorted(progs.explicit) for pr in (progs.get(p),)}
    out = Config(**data)
    out.source = getattr(cfg, "source", None)
    return out.validate()


def to_save(path: str | os.PathLike | None, start: Config, live: Config) -> Config:
    """What /liveai/config/save writes: the file as it is (when it loads), plus every setting that
    was changed while running (live differs from start). Command-line flags are not baked into the
    file unless they were changed live."""
    data: dict[str, Any] = {}
    if path is not None and Path(path).expanduser().exists():
        try:
            data = load_toml(Path(path).expanduser())
            make_config(None, data)
        except ConfigError:
            data = {}  # a broken file is replaced as a whole
    for f in fields(Config):
        v = getattr(live, f.name)
        if v != getattr(start, f.name):
            data[f.name] = v
    return make_config(None, data)


def save_config(cfg: Config, path: str | os.PathLike) -> Path:
    """Write cfg to path atomically; the text is checked by loading it back before it replaces
    anything. Returns the path."""
    path = Path(path).expanduser()
    write_file(path, to_toml(cfg).encode("utf-8"), check=lambda tmp: make_config(tmp))
    return path


def load_or_defaults(path: str | os.PathLike | None, overrides: dict[str, Any] | None = None,
                     must_exist: bool = False) -> tuple[Config, str | None]:
    """(config, error). A missing file (unless must_exist) is not an error; a broken one is logged
    with what is wrong and the defaults (plus the command-line overrides) are used."""
    err = None
    if path is not None and (must_exist or Path(path).expanduser().exists()):
        try:
            cfg = make_config(Path(path).expanduser(), overrides)
            cfg.source = str(path)
            return cfg, None
        except ConfigError as e:
            err = str(e) if str(path) in str(e) else f"config file {path}: {e}"
            log.error("%s; starting on the default settings (fix or delete the file, or save a new "
                      "one with /liveai/config/save)", err)
    try:
        cfg = make_config(None, overrides)
    except ConfigError as e:  # a bad flag: that one is the operator's, say so and drop the flags
        log.error("%s; ignoring the command-line settings too", e)
        err = f"{err}; {e}" if err else str(e)
        cfg = make_config(None, None)
    cfg.source = str(path) if path is not None else None
    return cfg, err
