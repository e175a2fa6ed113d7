"""The OSC address space as one table: types, ranges and docs.

Everything else is generated from or checked against TABLE: the server validates every incoming
message with it, liveai.control.remote binds a handler to every "in" address, liveai.control.oscquery serves it
as an OSCQuery JSON tree, `python -m liveai.control.reference --markdown` writes patches/OSC.md, and the tests
check that every address used in patches/ is in it.

The verbs follow AbletonOSC's pattern, with the set verb implicit so that a controller's fader and
its feedback share one address (TouchOSC, Open Stage Control, a TouchDesigner CHOP):

    /liveai/tempo 132          set a parameter
    /liveai/get/tempo [port]   reply /liveai/tempo 132.0 to the sender
    /liveai/listen/tempo [port]  the same now and on every change, until /liveai/unlisten/tempo

The optional last int argument `port` sends answers to that UDP port on the sender's host instead
of the sender's own address and port (for Max [udpsend], TouchDesigner OSC Out and oscsend, which
cannot receive). Only int, float and string arguments are used. Pure Data sends every number as a
float, so an int argument also accepts a float with an integral value; a choice (string) argument
also accepts the choice's index, for TouchDesigner CHOPs, which send numbers only.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from liveai.io.osc import AddressTable
from liveai.neural.personal import NAME_RE
from liveai.vocab import BAND_PARTS, DEFAULT_CHANNELS, GENERATORS, MAX_BPM, MIN_BPM, MODES, PARTS

PREFIX = "/liveai"
BAND_STYLES: tuple[str, ...] = ("chorale", "pop", "rock", "ballad", "waltz", "swing", "bossa", "duo")
DEFAULT_PORT, DEFAULT_OUT_PORT, DEFAULT_OSCQUERY_PORT = 9000, 9001, 9002


@dataclass(frozen=True)
class Arg:
    type: str  # OSC type tag: i int, f float, s string
    name: str
    range: tuple[float, float] | None = None
    choices: tuple = ()  # allowed values (strings for s; numbers for i)
    optional: bool = False
    doc: str = ""
    pattern: str = ""  # a regular expression a string must match whole (a name, never a path)


@dataclass(frozen=True)
class Address:
    path: str
    args: tuple[Arg, ...]
    doc: str
    direction: str = "in"  # "in" (to liveai), "out" (from liveai), "both" (a parameter: set in, value out)
    verb: str = "action"  # set, get, listen, unlisten, action, value, reply, feedback
    topic: str = ""  # the parameter or feedback topic this address belongs to
    example: tuple = ()  # valid arguments (tests and docs)
    owner: str = "control"  # the module that binds it: liveai.control.remote checks it binds all of its own

    @property
    def types(self) -> str:
        return "".join(a.type for a in self.args)

    @property
    def required(self) -> int:
        return sum(1 for a in self.args if not a.optional)

    @property
    def incoming(self) -> bool:
        return self.direction in ("in", "both")

    @property
    def outgoing(self) -> bool:
        return self.direction in ("out", "both")


@dataclass(frozen=True)
class Param:
    """A value with get/listen verbs; writable ones are set by sending the value to its address."""

    name: str
    args: tuple[Arg, ...]
    doc: str
    example: tuple
    writable: bool = True

    @property
    def path(self) -> str:
        return f"{PREFIX}/{self.name}"


PORT = Arg("i", "port", (1, 65535), optional=True, doc="answer to this UDP port on the sender's host")


def _f(name: str, lo: float, hi: float, doc: str = "") -> Arg:
    return Arg("f", name, (lo, hi), doc=doc)


def _i(name: str, lo: int, hi: int, doc: str = "") -> Arg:
    return Arg("i", name, (lo, hi), doc=doc)


PARAMS: tuple[Param, ...] = (
    Param("transport", (_i("running", 0, 1),), "1 starts the transport now (beat 1 of bar 1), 0 stops it "
          "(every note closed). It also starts at the player's first note, and stops after --idle-bars of player "
          "silence unless --start-now or --idle-bars 0.", (1,)),
    Param("tempo", (_f("bpm", int(MIN_BPM), int(MAX_BPM)),), "Tempo in BPM; while playing it changes from the next step on.", (150.0,)),
    Param("meter", (_i("beats", 1, 32), Arg("i", "unit", choices=(2, 4, 8, 16))),
          "Time signature, e.g. 3 4. While playing, the transport restarts at the next step as beat 1 of "
          "bar 1 (the pulse goes on).", (3, 4)),
    Param("mode", (Arg("s", "mode", choices=tuple(MODES)),), "What the engine does (or the mode's index).",
          (MODES[0],)),
    Param("generator", (Arg("s", "name", choices=tuple(GENERATORS)),),
          "The accompany mode's generator (or its index); the model loads in the background.", ("rules",)),
    Param("model", (Arg("s", "name", doc="a name from `liveai models`, builtin or none: letters, digits, - and _",
                        pattern=NAME_RE.pattern),),
          "The chord model the band plans with: your own by name (made by `liveai learn FILES --name NAME`), "
          "builtin, or none. It loads in the background and takes over between songs (a song playing keeps "
          "its model until the transport stops).", ("builtin",)),
    Param("temperature", (_f("t", 0.05, 5),), "Sampling temperature of the model generator.", (0.8,)),
    Param("density", (_f("density", 0, 1),), "How busy the accompaniment is.", (0.6,)),
    Param("energy", (_f("energy", 0, 1),), "One control for density and loudness (a sensor, a fader).", (0.7,)),
    Param("style", (_f("blend", 0, 1),), "Style blend: how much answers follow the player's style memory.", (0.4,)),
    Param("keylock", (_i("tonic", -1, 11),), "Lock the key to a tonic pitch class (0 C .. 11 B); -1 listens.", (2,)),
    *(p for part in PARTS for p in (
        Param(f"{part}/mute", (_i("muted", 0, 1),), f"Mute the {part} part (1) or not (0).", (1,)),
        Param(f"{part}/volume", (_f("gain", 0, 1),), f"Velocity scale of the {part} part (0 is silent).", (0.8,)),
        Param(f"{part}/channel", (_i("channel", 1, 16),), f"MIDI channel of the {part} part.",
              (DEFAULT_CHANNELS[part],)),
        Param(f"{part}/octave", (_i("octaves", -3, 3),), f"Transpose the {part} part by octaves.", (1,)),
        Param(f"{part}/program", (_i("program", 0, 127),), f"General MIDI program (0-127) of the {part} part: "
              "sent at once with its bank select, and recorded (--program, config `programs`).", (33,)),
    )),
    Param("band/style", (Arg("s", "name", choices=BAND_STYLES),),
          "Band style (or its index): the rhythm section that plays the chord plan; chorale is the generator's "
          "own voices. Not the player's learned profile (/liveai/style).", ("pop",)),
    Param("band/variation", (_i("variation", 0, 8),),
          "0: the band's variation follows energy (/liveai/energy, else the player's density and loudness); "
          "1..n: hold the style's n-th variation (1 is the sparsest). Changes at the next bar.", (2,)),
    *(p for part in BAND_PARTS for p in (
        Param(f"{part}/mute", (_i("muted", 0, 1),), f"Mute the band's {part} part (1) or not (0).", (1,)),
        Param(f"{part}/volume", (_f("gain", 0, 1),), f"Velocity scale of the band's {part} part (0 is silent).", (0.8,)),
        Param(f"{part}/channel", (_i("channel", 1, 16),), f"MIDI channel of the band's {part} part"
              + (" (10: General MIDI drums)." if part == "drums" else "."), (DEFAULT_CHANNELS[part],)),
        *((Param(f"{part}/octave", (_i("octaves", -3, 3),), f"Transpose the band's {part} part by octaves.", (1,)),)
          if part != "drums" else ()),
        Param(f"{part}/program", (_i("program", 0, 127),), f"General MIDI program (0-127) of the band's {part} part"
              + (": the drum kit on channel 10 (GS/GM2: 0 Standard, 32 Jazz, 40 Brush); none is sent until set"
                 if part == "drums" else "") + ": sent at once with its bank select, and recorded (--program, config "
              "`programs`).", (32,) if part == "drums" else (4,)),
    )),
    Param("band/section", (Arg("s", "section", doc="e.g. 'main'; empty with no band"),),
          "What the band plays now: a variation's name (sparse, main, full), fill, intro, ending or done.", (),
          writable=False),
    Param("position", (Arg("i", "bar", doc="from 1; 0 when stopped"), Arg("i", "beat", doc="from 1; 0 when stopped")),
          "Bar and beat; pushed on every beat to listeners.", (), writable=False),
    Param("key", (Arg("s", "key", doc="e.g. 'D major'; empty when unknown"),), "The key the engine hears.", (),
          writable=False),
    Param("chord", (Arg("s", "chord", doc="e.g. 'Bm'; empty when none"),), "The chord the engine plays.", (),
          writable=False),
    Param("chord/next", (Arg("s", "chord", doc="e.g. 'G7'; empty when none planned"),),
          "The chord the band's plan expects next (the lookahead: shown before it sounds).", (), writable=False),
    Param("chord/in", (Arg("f", "beats", doc="0 when none is planned"),),
          "Beats until the chord planned next (/liveai/chord/next) starts.", (), writable=False),
    Param("chord/source", (Arg("s", "source", doc="plan, corrected or played"),),
          "Where the chord comes from: the plan, a correction from the melody, or a chord you played.", (),
          writable=False),
    Param("chord/corrections", (Arg("i", "count", doc="since the song began"),),
          "How many times the melody corrected a chord the band had planned (and shown as next).", (),
          writable=False),
    Param("recording", (_i("recording", 0, 1),), "1 while /liveai/record/start is recording.", (), writable=False),
)


def _build() -> tuple[Address, ...]:
    t: list[Address] = [
        Address(f"{PREFIX}/ping", (PORT,), "Replies /liveai/pong.", example=()),
        Address(f"{PREFIX}/status", (PORT,), "Replies /liveai/status/reply.", example=()),
        Address(f"{PREFIX}/start", (), "Start the transport now (as /liveai/transport 1)."),
        Address(f"{PREFIX}/stop", (), "Stop the transport (as /liveai/transport 0)."),
        Address(f"{PREFIX}/panic", (), "Every sounding note off, CC64 0, then CC123 on every channel used."),
        Address(f"{PREFIX}/tap", (), "Tap tempo: three taps or more set the tempo (the median interval; a "
                "2 s pause starts over)."),
        Address(f"{PREFIX}/record/start", (Arg("s", "name", optional=True),),
                "Start recording a take (a new .mid file in the recordings directory; the name is "
                "sanitised and confined to it).", example=("take",)),
        Address(f"{PREFIX}/record/stop", (), "Stop recording and write the file; replies /liveai/record/saved."),
        Address(f"{PREFIX}/config/save", (PORT,), "Write the current settings (tempo, mode, density, ...) to the "
                "config file atomically; the box loads it at start-up. Replies /liveai/config/saved (liveai/app/boxwire.py).",
                owner="box"),
        Address(f"{PREFIX}/player/note", (_i("pitch", 0, 127), _i("velocity", 0, 127)),
                "Play a note into the engine as the player (velocity 0 is its note-off).", example=(60, 90)),
        Address(f"{PREFIX}/listen", (PORT,), "Listen to every topic below, notes included."),
        Address(f"{PREFIX}/unlisten", (PORT,), "Stop listening to every topic."),
        Address(f"{PREFIX}/listen/notes", (PORT,), "Receive every part's notes (/liveai/bass/note and the rest), as they go out.",
                verb="listen", topic="notes"),
        Address(f"{PREFIX}/unlisten/notes", (PORT,), "Stop receiving the engine's notes.", verb="unlisten", topic="notes"),
    ]
    for p in PARAMS:
        if p.writable:
            t.append(Address(p.path, p.args, p.doc, "both", "set", p.name, p.example))
        else:
            t.append(Address(p.path, p.args, p.doc, "out", "value", p.name))
        t.append(Address(f"{PREFIX}/get/{p.name}", (PORT,), f"Replies {p.path}.", verb="get", topic=p.name))
        t.append(Address(f"{PREFIX}/listen/{p.name}", (PORT,), f"Push {p.path} now and on every change.",
                         verb="listen", topic=p.name))
        t.append(Address(f"{PREFIX}/unlisten/{p.name}", (PORT,), f"Stop pushing {p.path}.", verb="unlisten",
                         topic=p.name))
    t += [  # the band's actions (after /liveai/band/style, which they need)
        Address(f"{PREFIX}/band/fill", (), "The band plays a fill to the end of this bar (or the next, if "
                "less than half of it is left); the fill ends the phrase."),
        Address(f"{PREFIX}/band/intro", (), "The band plays its style's intro from the next bar (while stopped: "
                "the transport starts and the intro plays at once)."),
        Address(f"{PREFIX}/band/ending", (), "The band plays its style's ending from the next bar, then stops "
                "until the transport starts again or /liveai/band/intro."),
    ]
    t += [
        Address(f"{PREFIX}/pong", (), "Reply to /liveai/ping.", "out", "reply"),
        Address(f"{PREFIX}/status/reply", (_i("running", 0, 1), Arg("i", "bar"), Arg("i", "beat"), _f("tempo", int(MIN_BPM), int(MAX_BPM)),
                                           Arg("s", "mode"), Arg("s", "key"), Arg("s", "chord")),
                "Reply to /liveai/status: running, bar, beat, tempo, mode, key, chord.", "out", "reply"),
        Address(f"{PREFIX}/error", (Arg("s", "message"),), "Sent to the sender of a bad message, saying what was wrong.",
                "out", "reply"),
        Address(f"{PREFIX}/record/saved", (Arg("s", "path"),), "The file a take was written to (to the sender of "
                "/liveai/record/stop and to recording listeners).", "out", "reply", "recording"),
        Address(f"{PREFIX}/config/saved", (Arg("s", "path"),), "Reply to /liveai/config/save: the file written.",
                "out", "reply", owner="box"),
        Address(f"{PREFIX}/control/dropped", (Arg("i", "count"),), "How many control messages the bounded "
                "control queue has dropped so far in floods (beyond its waiting room or the query rate): pushed "
                "to every listener, at most once a beat, when it grows.", "out", "feedback"),
    ]
    for part in PARTS + BAND_PARTS:
        t.append(Address(f"{PREFIX}/{part}/note", (_i("pitch", 0, 127), _i("velocity", 0, 127)),
                         f"A {part} note as its MIDI goes out (velocity 0 is its note-off): to every --osc-out "
                         "target and to notes listeners.", "out", "feedback", "notes"))
    return tuple(t)


TABLE: tuple[Address, ...] = _build()
ADDRESSES: dict[str, Address] = {a.path: a for a in TABLE}
TOPICS: tuple[str, ...] = tuple(p.name for p in PARAMS) + ("notes",)
PARAM_BY_NAME: dict[str, Param] = {p.name: p for p in PARAMS}


def _number(a: object) -> bool:
    return not isinstance(a, bool) and isinstance(a, (int, float)) and math.isfinite(a)


def parse_args(path: str, args: tuple) -> tuple:
    """The arguments of a message to path, converted to the table's types (int, float, str), or
    ValueError saying what is wrong. Nil/impulse arguments (None) are ignored."""
    spec = ADDRESSES[path]
    args = tuple(a for a in args if a is not None)
    if not spec.required <= len(args) <= len(spec.args):
        n = f"{spec.required}" if spec.required == len(spec.args) else f"{spec.required}..{len(spec.args)}"
        raise ValueError(f"expects {n} argument(s) ({spec.types or 'none'}), got {len(args)}")
    out = []
    for arg, a in zip(spec.args, args):
        if arg.type == "s":
            if arg.choices and _number(a) and a == int(a) and 0 <= int(a) < len(arg.choices):
                a = arg.choices[int(a)]  # a TouchDesigner CHOP sends the index
            if not isinstance(a, str):
                raise ValueError(f"{arg.name} expects a string, got {a!r}")
            if arg.choices and a not in arg.choices:
                raise ValueError(f"{a!r} is not one of {', '.join(map(str, arg.choices))}")
            if arg.pattern and not re.fullmatch(arg.pattern, a):
                raise ValueError(f"{arg.name} {a[:80]!r} is not a {arg.name} ({arg.doc or arg.pattern})")
            out.append(a)
            continue
        if not _number(a):
            raise ValueError(f"{arg.name} expects a finite number, got {a!r}")
        if arg.type == "i":
            if a != int(a):
                raise ValueError(f"{arg.name} expects an integer, got {a!r}")
            a = int(a)
        else:
            a = float(a)
        if arg.range and not arg.range[0] <= a <= arg.range[1]:
            raise ValueError(f"{arg.name} {a:g} is outside {arg.range[0]:g}..{arg.range[1]:g}")
        if arg.choices and a not in arg.choices:
            raise ValueError(f"{arg.name} {a:g} is not one of {', '.join(map(str, arg.choices))}")
        out.append(a)
    return tuple(out)


def check_args(path: str, args: tuple) -> str:
    """'' if args fit the table's entry for path, else what is wrong."""
    try:
        parse_args(path, args)
    except ValueError as e:
        return str(e)
    return ""


# a parameter's newest value, a query's newest asking and a save supersede the older ones: under a
# flood the server keeps the newest of these that it drops, and handles it when the flood pauses
LATEST_WINS = frozenset(a.path for a in ADDRESSES.values()
                        if a.incoming and (a.verb in ("set", "get", "listen", "unlisten")
                                           or a.path in (f"{PREFIX}/status", f"{PREFIX}/ping", f"{PREFIX}/config/save")))
OSC_TABLE = AddressTable(ADDRESSES, parse_args, LATEST_WINS)  # what an OscServer bound to liveai accepts
