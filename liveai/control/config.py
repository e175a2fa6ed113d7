"""Configuration: one dataclass, loaded from TOML, overridden by command-line flags."""
from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from liveai.music.meter import Meter
from liveai.vocab import DEFAULT_CHANNELS, GENERATORS, MODES, SYNTH_AUDIO, check_clock_source, check_latency, check_mode, check_tempo


class ConfigError(ValueError):
    pass


@dataclass
class Config:
    """Everything `liveai run` and `liveai demo` can be told; TOML keys have the same names."""

    tempo: float = 120.0
    meter: str = "4/4"
    mode: str = "accompany"
    generator: str = "model"
    model: str | None = None
    chord_model: str | None = None  # the streaming chord model: None the built-in one, "none" off, or a path
    # how much the planner trusts the chord model against its own ears (None: the model's card says,
    # 1 for the built-in one; `liveai learn` picks a personal model's on the player's held-out songs)
    chord_model_weight: float | None = None
    seed: int = 0
    temperature: float = 0.7
    top_p: float = 0.9
    midi_api: str = "alsa"
    midi_in: str | None = None
    midi_out: str | None = None
    virtual: bool = False
    thru: bool = False
    channels: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CHANNELS))
    osc_port: int = 9000
    osc_host: str = "127.0.0.1"
    osc_allow: list[str] = field(default_factory=list)  # sender IP addresses OSC control accepts (empty: any)
    osc_out: list[str] = field(default_factory=lambda: ["127.0.0.1:9001"])
    oscquery_port: int = 9002  # HTTP; 0 any free port, negative off
    web: bool | None = None  # the web page (liveai.control.web); None: on with --box only
    web_host: str = "127.0.0.1"  # another address needs the token printed in the page's URL
    web_port: int = 9003  # HTTP and OSCQuery's WebSocket; 0 any free port
    osc_bundle_latency: float = 0.0  # ms; > 0 sends OSC notes this early, as bundles timetagged with their due time
    record: str | None = None
    start_now: bool = False
    idle_bars: float = 2.0
    lookahead_steps: int = 1
    density: float = 1.0
    key: str | None = None  # key lock, e.g. "D" or "F#m"; also the key of --input-map
    harmonic_rhythm: str = "auto"  # how often the planned chord may change: auto | beat | half | bar
    commit_beats: float | None = None  # the next chord is committed (shown, then played) this many beats ahead
    split: int | None = None  # MIDI note: the player's notes below it are chords (arranger-keyboard split)
    input_map: str | None = None  # degrees | pads | chord
    follow_tempo: bool = False
    humanize_ms: float = 0.0
    humanize_velocity: float = 0.0
    swing: float = 0.0
    style: str | None = None  # a profile made by `liveai learn`
    band: str | None = None  # band style: a built-in name (liveai bands) or a .toml file; None/chorale: the generator's voices
    style_blend: float = 0.3
    call_gap_beats: float = 1.0
    answer_max_bars: int = 4
    auto_in: str | None = None  # regex: which input `midi_in = "auto"` picks (default: the first hardware-like one)
    auto_out: str | None = None  # the same for `midi_out = "auto"`
    hotplug_poll: float = 1.5  # seconds between looks at the MIDI port lists (hot-plug)
    record_cap_mb: float = 0.0  # recordings directory cap: oldest .mid files removed beyond it (0 = no cap)
    clock: str = "internal"  # clock source: internal | midi | link (liveai.app.sources)
    clock_in: str | None = None  # MIDI port the clock comes from (default: the player's input)
    clock_out: str | None = None  # MIDI port to send MIDI clock to ("virtual": our own liveai:clock)
    latency: dict[str, float] = field(default_factory=dict)  # ms early per output: midi, osc, clock
    link_start_stop: bool = False  # with --clock link: follow the Link session's start/stop
    sender: str = "process"  # MIDI sender: process (one of its own, liveai/io/sender.py; steps stay rewritable there) | thread
    programs: dict[str, Any] = field(default_factory=dict)  # GM program per part, e.g. {bass = 33, pad = "1:89"} (liveai.io.programs)
    program_change: bool = True  # send (and record) each part's bank select and program change; --no-program
    synth: bool = False  # start FluidSynth and play into it (liveai.io.fluidsynth)
    soundfont: str | None = None  # the .sf2 FluidSynth plays (default: the system's GM soundfont)
    synth_audio: str | None = None  # FluidSynth's audio driver: jack, pulseaudio, pipewire, alsa (default: chosen)
    show: bool = False  # the terminal live view (liveai.view.live), when stdout is a terminal
    audio_in: str | None = None  # sing to play: the audio input (substring of a JACK port or device; auto)
    audio_api: str = "auto"  # auto (JACK if a server runs, else sounddevice) | jack | sounddevice
    voice_tracker: str = "yin"  # pitch tracker: yin | crepe (liveai/singing, models/crepe_tiny.md)
    voice_model: str | None = None  # path of crepe_tiny.onnx for voice_tracker = "crepe"
    voice_snap: str = "chromatic"  # chromatic | key (the locked --key, else the key heard so far)
    voice_low: int = 36  # the singer's range, MIDI notes (C2)
    voice_high: int = 84  # (C6)
    voice_min_note_ms: float = 12.0  # voiced and steady this long before a note starts (= SegmenterSettings.onset_ms)
    realtime: bool = True  # every engine thread on SCHED_FIFO 50, the sender 70, where allowed (liveai.app.sources.realtime_engine)
    mute: dict[str, bool] = field(default_factory=dict)  # per part (OSC /liveai/<part>/mute); absent: heard
    volume: dict[str, float] = field(default_factory=dict)  # per part, 0..1; absent: 1
    octave: dict[str, int] = field(default_factory=dict)  # per part, -3..3; absent: 0

    def validate(self) -> "Config":
        """Raise ConfigError with a clear message for any bad value."""
        try:
            check_tempo(self.tempo)
            Meter.parse(self.meter)
            check_mode(self.mode)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if self.chord_model_weight is not None and not 0.0 <= float(self.chord_model_weight) <= 20.0:
            raise ConfigError(f"chord_model_weight must be between 0 and 20, not {self.chord_model_weight}")
        if self.generator not in GENERATORS:
            raise ConfigError(f"unknown generator {self.generator!r}; known: {', '.join(GENERATORS)}")
        if self.midi_api not in ("alsa", "jack"):
            raise ConfigError(f"midi_api must be alsa or jack, not {self.midi_api!r}")
        for part, ch in self.channels.items():
            if not isinstance(ch, int) or not 1 <= ch <= 16:
                raise ConfigError(f"channel of {part} must be 1..16, not {ch!r}")
        for name, table in (("channels", self.channels), ("mute", self.mute), ("volume", self.volume),
                            ("octave", self.octave)):
            unknown = sorted(set(table) - set(DEFAULT_CHANNELS))
            if unknown:
                raise ConfigError(f"{name}: unknown part {', '.join(map(repr, unknown))}; parts: {', '.join(DEFAULT_CHANNELS)}")
        if not all(isinstance(v, bool) for v in self.mute.values()):
            raise ConfigError("mute: each part is true or false")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0 for v in self.volume.values()):
            raise ConfigError("volume: each part is 0..1")
        if not all(isinstance(v, int) and not isinstance(v, bool) and -3 <= v <= 3 for v in self.octave.values()):
            raise ConfigError("octave: each part is a whole number -3..3")
        if not self.idle_bars >= 0:
            raise ConfigError(f"idle_bars must be 0 (never stop) or more, not {self.idle_bars}")
        if isinstance(self.osc_out, str):
            self.osc_out = [self.osc_out]
        from liveai.io.osc import parse_target
        for t in self.osc_out:
            try:
                parse_target(str(t))
            except ValueError as e:
                raise ConfigError(f"osc_out: {e}") from None
        if not 0 <= self.osc_port < 65536:
            raise ConfigError(f"bad osc_port {self.osc_port}")
        if isinstance(self.osc_allow, str):
            self.osc_allow = [self.osc_allow]
        allow = []
        for a in self.osc_allow:
            try:
                allow.append(str(ipaddress.ip_address(str(a).strip())))
            except ValueError:
                raise ConfigError(f"osc_allow: {a!r} is not an IP address (e.g. 192.168.1.20)") from None
        self.osc_allow = allow
        if not 0 <= self.web_port < 65536:
            raise ConfigError(f"bad web_port {self.web_port}")
        if not self.oscquery_port < 65536:
            raise ConfigError(f"bad oscquery_port {self.oscquery_port}")
        if not 0.0 <= self.osc_bundle_latency <= 500.0:
            raise ConfigError("osc_bundle_latency must be 0..500 ms")
        if not 1 <= self.lookahead_steps <= 16:
            raise ConfigError("lookahead_steps must be 1..16")
        if not 0.0 <= self.density <= 1.0:
            raise ConfigError("density must be 0..1")
        if self.input_map is not None:
            from liveai.music.input_map import MAPS
            if self.input_map not in MAPS:
                raise ConfigError(f"unknown input map {self.input_map!r}; known: {', '.join(MAPS)}")
        if self.key is not None:
            from liveai.music.input_map import parse_key
            try:
                parse_key(self.key)
            except ValueError as e:
                raise ConfigError(str(e)) from None
        from liveai.harmony.planner import HARMONIC_RHYTHMS
        if self.harmonic_rhythm not in HARMONIC_RHYTHMS:
            raise ConfigError(f"harmonic_rhythm must be one of {', '.join(HARMONIC_RHYTHMS)}, not {self.harmonic_rhythm!r}")
        if self.commit_beats is not None and not (isinstance(self.commit_beats, (int, float))
                                                  and 0.0 <= self.commit_beats <= 4.0):
            raise ConfigError(f"commit_beats must be 0-4 beats, not {self.commit_beats!r}")
        if self.split is not None:
            if isinstance(self.split, str):
                from liveai.music.tunes import pitch
                try:
                    self.split = pitch(self.split)
                except (KeyError, ValueError, IndexError):
                    raise ConfigError(f"split must be a MIDI note number or a name like F#2, not {self.split!r}") from None
            if not isinstance(self.split, int) or not 0 <= self.split <= 127:
                raise ConfigError(f"split must be a MIDI note 0-127, not {self.split!r}")
        if not (0.0 <= self.swing <= 1.0 and 0.0 <= self.style_blend <= 1.0):
            raise ConfigError("swing and style_blend must be 0..1")
        if not (0.0 <= self.humanize_ms <= 50.0 and 0.0 <= self.humanize_velocity <= 40.0):
            raise ConfigError("humanize_ms must be 0..50 and humanize_velocity 0..40")
        if not (0.25 <= self.call_gap_beats <= 8 and 1 <= self.answer_max_bars <= 16):
            raise ConfigError("call_gap_beats must be 0.25..8 and answer_max_bars 1..16")
        if self.band is not None:
            from liveai.band.style import StyleError, load_style
            if not isinstance(self.band, str):
                raise ConfigError(f"band must be a style name or a .toml path, not {self.band!r}")
            try:
                load_style(self.band)
            except StyleError as e:
                raise ConfigError(str(e)) from None
        for pat in (self.auto_in, self.auto_out):
            if pat is not None:
                try:
                    re.compile(pat)
                except (re.error, TypeError) as e:
                    raise ConfigError(f"auto_in/auto_out {pat!r} is not a regular expression: {e}") from None
        if not 0.1 <= self.hotplug_poll <= 10.0:
            raise ConfigError("hotplug_poll must be 0.1..10 seconds")
        if not 0.0 <= self.record_cap_mb:
            raise ConfigError("record_cap_mb must be 0 (no cap) or more")
        if not (0.0 < self.temperature <= 5.0 and 0.0 < self.top_p <= 1.0):
            raise ConfigError("temperature must be in (0, 5] and top_p in (0, 1]")
        if not isinstance(self.programs, dict):
            raise ConfigError("programs must be a table of part = program (e.g. bass = 33)")
        from liveai.io.programs import DEFAULT_PROGRAMS, parse_program
        known = list(DEFAULT_CHANNELS) + [p for p in DEFAULT_PROGRAMS if p not in DEFAULT_CHANNELS]
        unknown = sorted(set(self.programs) - set(known))
        if unknown:  # a misspelt part was silently ignored (issue 29)
            raise ConfigError(f"programs: unknown part {', '.join(map(repr, unknown))}; parts: {', '.join(known)}")
        for part, prog in self.programs.items():
            try:
                parse_program(prog)
            except ValueError as e:
                raise ConfigError(f"program of {part}: {e}") from None
        if self.synth_audio is not None and self.synth_audio not in SYNTH_AUDIO:
            raise ConfigError(f"synth_audio must be one of {', '.join(SYNTH_AUDIO)}, not {self.synth_audio!r}")
        if self.audio_api not in ("auto", "jack", "sounddevice"):
            raise ConfigError(f"audio_api must be auto, jack or sounddevice, not {self.audio_api!r}")
        if self.voice_tracker not in ("yin", "crepe") or self.voice_snap not in ("chromatic", "key"):
            raise ConfigError("voice_tracker must be yin or crepe, voice_snap chromatic or key")
        if not (0 <= self.voice_low < self.voice_high <= 127 and 5.0 <= self.voice_min_note_ms <= 500.0):
            raise ConfigError("voice range must be 0 <= low < high <= 127 and voice_min_note_ms 5..500")
        try:
            check_clock_source(self.clock)
            if self.sender not in ("thread", "process"):
                raise ValueError(f"sender must be thread or process, not {self.sender!r}")
            self.latency = check_latency(dict(self.latency or {}))
        except (ValueError, TypeError) as e:
            raise ConfigError(str(e)) from None
        return self


_FIELDS = {f.name: f for f in fields(Config)}


def load_toml(path: str | Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    except RecursionError:  # tomllib recurses per nested array or table
        raise ConfigError(f"config file {path} is nested too deeply to be a liveai config") from None
    except OSError as e:
        raise ConfigError(f"config file {path} cannot be read: {e.strerror or e}") from None
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"config file {path}: unknown keys {', '.join(unknown)}; known keys: {', '.join(_FIELDS)}")
    return data


def web_flags(p: Any) -> None:
    """The web page's flags (liveai.control.web), for `liveai run` and `liveai demo`."""
    p.add_argument("--web", action="store_const", const=True, help="serve the web page to see and steer the band "
                   "(and OSCQuery's WebSocket; needs liveai[web]); on by default with --box")
    p.add_argument("--no-web", dest="web", action="store_const", const=False, help="no web page")
    p.add_argument("--web-port", dest="web_port", type=int, help="its HTTP port (default 9003; 0 any free port)")
    p.add_argument("--web-host", dest="web_host", metavar="HOST", help="address it binds to (default 127.0.0.1; "
                   "another address prints a URL with a random token, needed by every request)")


def _check_type(key: str, value: Any, where: str) -> None:
    """A value of the wrong kind names its key (and file): `tempo = "fast"` is not a number."""
    default = getattr(Config(), key, None)
    if key == "web":  # true, false, or unset (None: on with --box only)
        default = False
    if default is None or isinstance(value, type(default)):
        if not (isinstance(value, bool) and not isinstance(default, bool)):
            return
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return
    if isinstance(default, list) and isinstance(value, str):
        return  # one item for a list (osc_out, osc_allow)
    kind = {bool: "true or false", int: "a whole number", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(default), type(default).__name__)
    raise ConfigError(f"{where}{key} must be {kind}, not {value!r}")


def make_config(toml_path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Defaults, then the TOML file, then flags given on the command line (None = not given)."""
    cfg = Config()
    layers = []
    if toml_path:
        layers.append(load_toml(toml_path))
    if overrides:
        layers.append({k: v for k, v in overrides.items() if v is not None and k in _FIELDS})
    for n, layer in enumerate(layers):
        where = f"config file {toml_path}: " if toml_path and n == 0 else ""
        for k, v in layer.items():
            _check_type(k, v, where)
            if k in ("channels", "programs"):
                if not isinstance(v, dict):
                    raise ConfigError(f"{k} must be a table of part = {k[:-1]}")
                merged = dict(getattr(cfg, k))
                merged.update(v)
                v = merged
            elif k == "tempo":
                v = float(v)
            setattr(cfg, k, v)
        if where:  # the file on its own first, so that its errors name it
            try:
                cfg.validate()
            except ConfigError as e:
                raise ConfigError(f"{where}{e}") from None
    cfg.validate()
    use_personal_model(cfg)
    cfg.source = str(toml_path) if toml_path else None  # where /liveai/config/save writes
    return cfg


def use_personal_model(cfg: Config) -> None:
    """`model = "NAME"` (not a path): the player's own model from `liveai learn --name NAME`, i.e.
    its chord model and style profile (unless chord_model or style are given too); the
    accompanist stays the built-in one."""
    from liveai.neural.personal import find, looks_like_name, models_dir
    if not cfg.model or not looks_like_name(cfg.model) or Path(cfg.model).exists():
        return
    m = find(cfg.model)
    if m is None:
        raise ConfigError(f"no model named {cfg.model!r} in {models_dir()} (liveai models lists them; "
                          f"liveai learn FILES --name {cfg.model} makes one)")
    if cfg.chord_model is None:
        cfg.chord_model = str(m.chords)
    if cfg.style is None and m.style is not None:
        cfg.style = str(m.style)
    cfg.model = None


__all__ = ["Config", "ConfigError", "make_config", "load_toml", "GENERATORS", "MODES"]
