"""The OSC address space as one table: types, ranges and docs. The server checks every incoming
message against it; docs and patch checks are generated from or checked against it."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Address:
    path: str
    types: str  # OSC type tags of the arguments: i int, f float (ints accepted), s string
    doc: str
    direction: str = "in"  # "in" (to liveai), "out" (from liveai)
    range: tuple[float, float] | None = None
    choices: tuple[str, ...] = ()


TABLE: tuple[Address, ...] = (
    Address("/liveai/ping", "", "Replies /liveai/pong to the sender's address and port."),
    Address("/liveai/pong", "", "Reply to /liveai/ping.", "out"),
    Address("/liveai/tempo", "f", "Set the tempo in BPM.", range=(20, 400)),
    Address("/liveai/mode", "s", "Set the mode.", choices=("accompany",)),
    Address("/liveai/panic", "", "Every sounding note off, then CC123 on every channel used."),
    Address("/liveai/status", "", "Replies /liveai/status/reply with running, bar, beat, tempo, mode, key, chord."),
    Address("/liveai/status/reply", "iiifsss", "Reply to /liveai/status.", "out"),
    Address("/liveai/error", "s", "Sent to the sender of a bad message, saying what was wrong.", "out"),
    Address("/liveai/<part>/note", "ii", "An engine note: pitch, velocity (0 is its note-off).", "out"),
    Address("/liveai/config/save", "", "Write the current settings (tempo, mode, ...) to the config file, atomically; "
            "the box loads it at start-up. Replies /liveai/config/saved (liveai/box/wire.py)."),
    Address("/liveai/config/saved", "s", "Reply to /liveai/config/save: the file written.", "out"),
)

ADDRESSES: dict[str, Address] = {a.path: a for a in TABLE}


def check_args(path: str, args: tuple) -> str:
    """'' if args fit the table's entry for path, else what is wrong."""
    spec = ADDRESSES[path]
    if len(args) != len(spec.types):
        return f"expects {len(spec.types)} argument(s) ({spec.types or 'none'}), got {len(args)}"
    for t, a in zip(spec.types, args):
        if t == "f":
            if isinstance(a, bool) or not isinstance(a, (int, float)):
                return f"expects a number, got {type(a).__name__}"
            if not math.isfinite(a):
                return "expects a finite number"
            if spec.range and not spec.range[0] <= a <= spec.range[1]:
                return f"{a} is outside {spec.range[0]:g}..{spec.range[1]:g}"
        elif t == "i":
            if isinstance(a, bool) or not isinstance(a, (int, float)) or not math.isfinite(a) or a != int(a):
                return f"expects an integer, got {a!r}"
        elif t == "s":
            if not isinstance(a, str):
                return f"expects a string, got {type(a).__name__}"
            if spec.choices and a not in spec.choices:
                return f"{a!r} is not one of {', '.join(spec.choices)}"
    return ""
