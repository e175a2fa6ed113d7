"""Band style files: TOML data parsed into frozen dataclasses, with errors that name the line and
the field (the format is described in liveai/band/__init__.py and the README's "Band styles")."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from liveai.music.meter import Meter

PITCHED = ("bass", "comp", "pad", "arp")
GM_DRUMS: dict[str, int] = {
    "kick": 36, "stick": 37, "snare": 38, "clap": 39, "hat": 42, "pedal": 44, "open": 46, "ride": 51,
    "bell": 53, "crash": 49, "tom_low": 45, "tom_mid": 47, "tom_high": 50, "floor": 41, "tamb": 54,
    "cowbell": 56, "shaker": 70, "clave": 75,
}
VOICINGS = ("close", "open", "drop2", "shell")
ARP_ORDERS = ("up", "down", "updown")
WALKS = ("chromatic", "scale", "mixed")
# Grid symbols. Every part: "." silence, "-" hold (pitched) / nothing (drums), x hit, X accented
# hit, g ghost (soft) hit. The bass also takes chord degrees and walking symbols.
BASE_SYMBOLS = set(".-xXg")
BASS_SYMBOLS = BASE_SYMBOLS | set("R3578AW")
STEP_SIZES = (1, 2, 4)  # a grid cell is a 16th, an 8th or a quarter (in x/4)


class StyleError(ValueError):
    """A style file that cannot be used; the message names the style, the field and the line."""


@dataclass(frozen=True)
class PartSpec:
    """How one pitched part sounds: its range, velocities and how it draws pitches from the chord."""

    range: tuple[int, int]
    velocity: int = 80
    accent: int = 12  # added on X cells and on the bar's downbeat
    ghost: int = 40  # velocity of g cells
    voicing: str = "close"  # comp and pad
    order: str = "up"  # arp
    span: int = 6  # arp: how many chord tones the arpeggio climbs through
    walk: str = "chromatic"  # bass: how A cells approach the next chord's root
    legato: bool = False  # comp/pad/arp: a hit rings until the part's next hit ("." holds too)


@dataclass(frozen=True)
class Grid:
    """One bar-long (or section-long) rhythm: cells of `size` steps each."""

    cells: str
    size: int  # steps per cell

    def at(self, pos: int) -> str | None:
        """The cell starting at step `pos` of the section (None between cells)."""
        if pos % self.size:
            return None
        i = pos // self.size
        return self.cells[i] if i < len(self.cells) else None


@dataclass(frozen=True)
class Section:
    """A variation, a fill, an intro or an ending: part -> meter -> grid. Drum parts are named
    "drums.<instrument>"."""

    name: str
    grids: dict[str, dict[str, Grid]]
    bars: int = 1
    energy: float = 0.0  # variations: played from this energy (0..1) up
    velocity: float = 1.0  # velocity scale of the whole section
    brk: bool = False  # fill: parts it does not name rest (a break) instead of playing on

    def grid(self, part: str, meter: str) -> Grid | None:
        return self.grids.get(part, {}).get(meter)


@dataclass(frozen=True)
class Style:
    name: str
    description: str
    meters: tuple[str, ...]
    fallback: str | None  # the style to play in a meter this one lacks (e.g. waltz for 3/4)
    swing: float  # long:short ratio of each pair of 8ths: 1 straight, 2 triplet
    phrase_bars: int
    fill_every: int  # bars between automatic fills (0: only when triggered or asked)
    parts: dict[str, PartSpec]
    drum_map: dict[str, int]
    variations: tuple[Section, ...]  # by rising energy
    fill: Section | None = None
    intro: Section | None = None
    ending: Section | None = None
    chorale: bool = False  # no band parts: the generator's own voices play (today's texture)
    path: str = ""

    def meter_key(self, steps_per_bar: int) -> str | None:
        """Which of this style's meters fits a bar of steps_per_bar 16ths."""
        for m in self.meters:
            if Meter.parse(m).steps_per_bar == steps_per_bar:
                return m
        return None

    @property
    def engine_swing(self) -> float:
        """The engine's swing amount (0 straight, 1 triplet) giving this ratio of 8ths."""
        return max(0.0, 6.0 * (self.swing / (1.0 + self.swing) - 0.5))


# ------------------------------------------------------------------------------------ parsing
_TOP = {"name", "description", "meters", "fallback", "swing", "phrase_bars", "fill_every", "chorale",
        "parts", "variations", "fill", "intro", "ending"}
_PART_KEYS = {"range", "velocity", "accent", "ghost", "voicing", "order", "span", "walk", "legato", "map"}
_SECTION_KEYS = {"bars", "energy", "velocity", "break", "bass", "comp", "pad", "arp", "drums"}


class _Ctx:
    """Error reporting for one file: the style's name, its text (to find a field's line)."""

    def __init__(self, name: str, text: str) -> None:
        self.name, self.lines = name, text.splitlines()

    def line_of(self, path: list[str]) -> int | None:
        """Best effort: the line where the last key of the dotted path is set (under its table)."""
        table: list[str] = []
        key = path[-1]
        for n, raw in enumerate(self.lines, 1):
            s = raw.split("#", 1)[0].strip()
            m = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?$", s)
            if m:
                table = [p.strip().strip('"') for p in m.group(1).split(".")]
                if table == path:
                    return n
                continue
            m = re.match(r'^("?[\w./-]+"?(?:\s*\.\s*"?[\w./-]+"?)*)\s*=', s)
            if not m:
                continue
            keys = table + [p.strip().strip('"') for p in m.group(1).split(".")]
            if keys == path[: len(keys)] and (len(keys) == len(path) or key in s):
                return n
            if keys[-1] == key and keys[: len(table)] == path[: len(table)]:
                return n
        return None

    def error(self, path: list[str], msg: str) -> StyleError:
        where = ".".join(path)
        line = self.line_of(path) if path else None
        at = f" (line {line})" if line else ""
        return StyleError(f"style {self.name!r}: {where}{at}: {msg}")


def _need(ctx: _Ctx, path: list[str], v: Any, kind: type | tuple, what: str) -> Any:
    if isinstance(v, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise ctx.error(path, f"expects {what}, got {v!r}")
    if not isinstance(v, kind):
        raise ctx.error(path, f"expects {what}, got {type(v).__name__} {v!r}")
    return v


def _number(ctx: _Ctx, path: list[str], v: Any, lo: float, hi: float) -> float:
    _need(ctx, path, v, (int, float), "a number")
    if not lo <= v <= hi:
        raise ctx.error(path, f"{v} is outside {lo:g}..{hi:g}")
    return float(v)


def _int(ctx: _Ctx, path: list[str], v: Any, lo: int, hi: int) -> int:
    _need(ctx, path, v, int, "an integer")
    if not lo <= v <= hi:
        raise ctx.error(path, f"{v} is outside {lo}..{hi}")
    return int(v)


def _unknown(ctx: _Ctx, path: list[str], table: dict, known: set[str]) -> None:
    extra = sorted(set(table) - known)
    if extra:
        raise ctx.error(path + [extra[0]], f"unknown key; known keys here: {', '.join(sorted(known))}")


def parse_grid(text: str, meter: str, bars: int, symbols: set[str]) -> Grid:
    """A compact rhythm: one character a cell ("x..x..x."), spaces and | ignored. The cell is a 16th,
    an 8th or a quarter (in x/4), whichever makes the length fill `bars` bars. ValueError if not."""
    cells = re.sub(r"[\s|]", "", text)
    bad = sorted(set(cells) - symbols)
    if bad:
        raise ValueError(f"{''.join(bad)!r} is not a grid symbol (use {' '.join(sorted(symbols))})")
    spb = Meter.parse(meter).steps_per_bar * bars
    for size in STEP_SIZES:
        if spb % size == 0 and len(cells) == spb // size:
            return Grid(cells, size)
    counts = ", ".join(str(spb // s) for s in STEP_SIZES if spb % s == 0)
    raise ValueError(f"has {len(cells)} cells; {bars} bar(s) of {meter} need {counts} (16ths, 8ths or quarters)")


def _section(ctx: _Ctx, path: list[str], t: Any, meters: tuple[str, ...], drum_map: dict[str, int]) -> Section:
    _need(ctx, path, t, dict, "a table")
    _unknown(ctx, path, t, _SECTION_KEYS)
    bars = _int(ctx, path + ["bars"], t.get("bars", 1), 1, 16)
    energy = _number(ctx, path + ["energy"], t.get("energy", 0.0), 0.0, 1.0)
    vel = _number(ctx, path + ["velocity"], t.get("velocity", 1.0), 0.0, 2.0)
    brk = _need(ctx, path + ["break"], t.get("break", False), bool, "true or false")
    grids: dict[str, dict[str, Grid]] = {}
    parts: list[tuple[str, list[str], Any]] = [(p, path + [p], t[p]) for p in PITCHED if p in t]
    if "drums" in t:
        d = _need(ctx, path + ["drums"], t["drums"], dict, "a table of instrument = patterns")
        for inst, v in d.items():
            if inst not in drum_map:
                raise ctx.error(path + ["drums", inst], f"unknown drum instrument; known: {', '.join(drum_map)}")
            parts.append((f"drums.{inst}", path + ["drums", inst], v))
    for part, ppath, v in parts:
        _need(ctx, ppath, v, dict, 'a table of meter = pattern, e.g. { "4/4" = "x..x..x." }')
        syms = BASS_SYMBOLS if part == "bass" else BASE_SYMBOLS
        by_meter: dict[str, Grid] = {}
        for m, text in v.items():
            mpath = ppath[:-1] + [f"{ppath[-1]}[{m}]"]
            if m not in meters:
                raise ctx.error(mpath, f"meter {m!r} is not one of the style's meters ({', '.join(meters)})")
            _need(ctx, mpath, text, str, "a pattern string")
            try:
                by_meter[m] = parse_grid(text, m, bars, syms)
            except ValueError as e:
                err = ctx.error(ppath, str(e))
                raise StyleError(str(err).replace(".".join(ppath), ".".join(mpath), 1)) from None
        grids[part] = by_meter
    return Section(path[-1], grids, bars, energy, vel, brk)


def parse_style(text: str, name: str = "style", path: str = "") -> Style:
    """A Style from TOML text; StyleError naming the field (and line) on anything wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise StyleError(f"style {name!r}: not valid TOML: {e}") from None
    except RecursionError:
        raise StyleError(f"style {name!r}: nested too deeply to be a band style") from None
    name = data.get("name", name) if isinstance(data.get("name", name), str) else name
    ctx = _Ctx(name, text)
    _unknown(ctx, [], data, _TOP)
    desc = _need(ctx, ["description"], data.get("description", ""), str, "a string")
    chorale = _need(ctx, ["chorale"], data.get("chorale", False), bool, "true or false")
    meters_raw = _need(ctx, ["meters"], data.get("meters", ["4/4"]), list, 'a list of meters, e.g. ["4/4", "3/4"]')
    meters: list[str] = []
    for i, m in enumerate(meters_raw):
        try:
            meters.append(str(Meter.parse(_need(ctx, [f"meters[{i}]"], m, str, "a meter string"))))
        except ValueError as e:
            raise ctx.error(["meters"], str(e)) from None
    fallback = data.get("fallback")
    if fallback is not None:
        _need(ctx, ["fallback"], fallback, str, "a style name")
        _check_fallback(ctx, fallback, path)
    swing = _number(ctx, ["swing"], data.get("swing", 1.0), 1.0, 3.0)
    phrase = _int(ctx, ["phrase_bars"], data.get("phrase_bars", 4), 1, 32)
    fill_every = _int(ctx, ["fill_every"], data.get("fill_every", phrase), 0, 64)
    if fill_every and fill_every % phrase:
        raise ctx.error(["fill_every"], f"must be a multiple of phrase_bars ({phrase}), so fills end phrases")
    parts: dict[str, PartSpec] = {}
    drum_map = dict(GM_DRUMS)
    raw_parts = _need(ctx, ["parts"], data.get("parts", {}), dict, "a table of parts")
    _unknown(ctx, ["parts"], raw_parts, set(PITCHED) | {"drums"})
    for p, spec in raw_parts.items():
        pp = ["parts", p]
        _need(ctx, pp, spec, dict, "a table")
        _unknown(ctx, pp, spec, _PART_KEYS)
        if p == "drums":
            m = _need(ctx, pp + ["map"], spec.get("map", {}), dict, "a table of instrument = note")
            for inst, note in m.items():
                if inst not in GM_DRUMS:
                    raise ctx.error(pp + ["map", inst], f"unknown drum instrument; known: {', '.join(GM_DRUMS)}")
                drum_map[inst] = _int(ctx, pp + ["map", inst], note, 0, 127)
            parts[p] = PartSpec((0, 127), _int(ctx, pp + ["velocity"], spec.get("velocity", 90), 1, 127),
                                _int(ctx, pp + ["accent"], spec.get("accent", 20), 0, 60),
                                _int(ctx, pp + ["ghost"], spec.get("ghost", 35), 1, 127))
            continue
        r = _need(ctx, pp + ["range"], spec.get("range", [36, 84]), list, "[lowest, highest] MIDI notes")
        if len(r) != 2:
            raise ctx.error(pp + ["range"], "expects [lowest, highest]")
        lo, hi = (_int(ctx, pp + ["range"], x, 0, 127) for x in r)
        if hi - lo < 12:
            raise ctx.error(pp + ["range"], f"{lo}..{hi} is narrower than an octave")
        voicing = spec.get("voicing", "close")
        if voicing not in VOICINGS:
            raise ctx.error(pp + ["voicing"], f"{voicing!r} is not one of {', '.join(VOICINGS)}")
        order = spec.get("order", "up")
        if order not in ARP_ORDERS:
            raise ctx.error(pp + ["order"], f"{order!r} is not one of {', '.join(ARP_ORDERS)}")
        walk = spec.get("walk", "chromatic")
        if walk not in WALKS:
            raise ctx.error(pp + ["walk"], f"{walk!r} is not one of {', '.join(WALKS)}")
        legato = _need(ctx, pp + ["legato"], spec.get("legato", False), bool, "true or false")
        parts[p] = PartSpec((lo, hi), _int(ctx, pp + ["velocity"], spec.get("velocity", 80), 1, 127),
                            _int(ctx, pp + ["accent"], spec.get("accent", 12), 0, 60),
                            _int(ctx, pp + ["ghost"], spec.get("ghost", 40), 1, 127), voicing, order,
                            _int(ctx, pp + ["span"], spec.get("span", 6), 2, 16), walk, legato)
    ms = tuple(meters)
    raw_vars = _need(ctx, ["variations"], data.get("variations", {}), dict, "a table of variations")
    if not chorale and len(raw_vars) < 2:
        raise ctx.error(["variations"], "needs at least two variations (a sparse and a full one)")
    variations = [_section(ctx, ["variations", k], v, ms, drum_map) for k, v in raw_vars.items()]
    variations.sort(key=lambda s: s.energy)
    for sec in variations:
        for part in sec.grids:
            if part.split(".")[0] in PITCHED and part not in parts:
                raise ctx.error(["variations", sec.name, part], f"plays {part} but [parts.{part}] is missing")
    extra = {k: _section(ctx, [k], data[k], ms, drum_map) if k in data else None for k in ("fill", "intro", "ending")}
    return Style(name, desc, ms, fallback, swing, phrase, fill_every, parts, drum_map, tuple(variations),
                 extra["fill"], extra["intro"], extra["ending"], chorale, path)


# ------------------------------------------------------------------------------------ loading
def fallback_source(fallback: str, style_path: str = "") -> str:
    """What a style's fallback loads, one answer for the check at load and the load at play time:
    a built-in style's name as is, else a style file's path. A relative path is read beside the
    style file (else from the current folder, where it was read before); one found in neither
    place is given beside the style file, so the error names where it was looked for."""
    if fallback in builtin_names() or not (fallback.endswith(".toml") or "/" in fallback):
        return fallback
    p = Path(fallback).expanduser()
    if p.is_absolute():
        return str(p)
    beside = (Path(style_path).parent if style_path else Path(".")) / p
    return str(p) if p.is_file() and not beside.is_file() else str(beside)


def _check_fallback(ctx: "_Ctx", fallback: str, path: str) -> None:
    """A fallback names a built-in style or a style file (beside this one, or as given): checked
    at load, once, rather than failing on every bar of a meter the style lacks."""
    if fallback in builtin_names():
        return
    if (fallback.endswith(".toml") or "/" in fallback) and Path(fallback_source(fallback, path)).is_file():
        return
    raise ctx.error(["fallback"], f"{fallback!r} names no style (built-in: {', '.join(builtin_names())}; "
                                  "or a path to a .toml style file)")


def builtin_names() -> list[str]:
    """The built-in styles, in the order `liveai bands` lists them."""
    d = resources.files("liveai.band") / "styles"
    names = sorted(p.name[:-5] for p in d.iterdir() if p.name.endswith(".toml"))
    order = ["chorale", "pop", "rock", "ballad", "waltz", "swing", "bossa", "duo"]
    return [n for n in order if n in names] + [n for n in names if n not in order]


def load_style(name_or_path: str) -> Style:
    """A built-in style by name, or a style file by path; StyleError if missing or malformed."""
    if name_or_path.endswith(".toml") or "/" in name_or_path or Path(name_or_path).is_file():
        p = Path(name_or_path).expanduser()
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise StyleError(f"band style file {p} does not exist") from None
        except (OSError, UnicodeDecodeError) as e:
            raise StyleError(f"band style file {p} cannot be read: {e}") from None
        try:
            return parse_style(text, p.stem, str(p))
        except StyleError as e:  # the user's own file: say which
            raise StyleError(f"band style file {p}: {e}") from None
    f = resources.files("liveai.band") / "styles" / f"{name_or_path}.toml"
    if not f.is_file():
        raise StyleError(f"unknown band style {name_or_path!r}; built-in: {', '.join(builtin_names())} "
                         "(or a path to a .toml style file)")
    return parse_style(f.read_text(encoding="utf-8"), name_or_path, str(f))
