"""General MIDI programs per part: what a GM synth plays each part with.

A program change (with bank select CC0/CC32 before it) goes out for every part when an output opens
and when a part's channel changes, and is recorded in the take's tracks, so that a GM player or
FluidSynth hears a bass as a bass and not everything as a piano. Program numbers are the wire's,
0-127 (GM lists count from 1: "34 Electric Bass (finger)" is 33 here).

The table is keyed by part name with a default for any other part, so parts added by band styles
(comp, pad, arp, ...) slot in; a part on channel 10 (GM drums) gets none unless one is set for it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from liveai.io.output import OutEvent

CC_BANK_MSB, CC_BANK_LSB = 0, 32
DRUM_CHANNEL = 10  # 1-based, as in the config


@dataclass(frozen=True, slots=True)
class Program:
    """A GM program (0-127) in a bank (0-16383; 0 is General MIDI's own)."""

    program: int
    bank: int = 0

    def __post_init__(self) -> None:
        if not (isinstance(self.program, int) and 0 <= self.program <= 127):
            raise ValueError(f"program must be 0..127, not {self.program!r}")
        if not (isinstance(self.bank, int) and 0 <= self.bank <= 16383):
            raise ValueError(f"bank must be 0..16383, not {self.bank!r}")

    def __str__(self) -> str:
        return f"{self.bank}:{self.program}" if self.bank else str(self.program)


# Chosen for a laptop's GM soundfont: a bass that is heard as a bass, inner voices that blend, a
# melody that cuts through. Names as in the GM 1 sound set.
DEFAULT_PROGRAMS: dict[str, Program] = {
    "bass": Program(33),    # Electric Bass (finger)
    "tenor": Program(48),   # String Ensemble 1
    "alto": Program(0),     # Acoustic Grand Piano
    "melody": Program(73),  # Flute
    "comp": Program(4),     # Electric Piano 1
    "pad": Program(89),     # Pad 2 (warm)
    "arp": Program(46),     # Orchestral Harp
    "lead": Program(80),    # Lead 1 (square)
}
DEFAULT_PROGRAM = Program(0)  # any other part: Acoustic Grand Piano

GM_NAMES = {0: "Acoustic Grand Piano", 4: "Electric Piano 1", 33: "Electric Bass (finger)",
            46: "Orchestral Harp", 48: "String Ensemble 1", 73: "Flute", 80: "Lead 1 (square)",
            89: "Pad 2 (warm)"}


def parse_program(value: object) -> Program:
    """A program from config or a flag: 33, "33" or "BANK:PROGRAM" (e.g. "8:33")."""
    if isinstance(value, Program):
        return value
    if isinstance(value, bool):
        raise ValueError(f"not a program: {value!r}")
    if isinstance(value, int):
        return Program(value)
    if isinstance(value, str):
        bank, sep, prog = value.strip().rpartition(":")
        try:
            return Program(int(prog), int(bank) if sep else 0)
        except ValueError as e:
            if "must be" in str(e):
                raise
            raise ValueError(f"not a program: {value!r} (expected PROGRAM or BANK:PROGRAM, e.g. 33 or 8:33)") from None
    raise ValueError(f"not a program: {value!r}")


def parse_assignments(items: Iterable[str]) -> dict[str, Program]:
    """`--program bass=33 --program pad=1:89` -> {part: Program}."""
    out: dict[str, Program] = {}
    for item in items:
        part, sep, value = item.partition("=")
        if not sep or not part.strip():
            raise ValueError(f"--program expects PART=PROGRAM (e.g. bass=33), not {item!r}")
        out[part.strip()] = parse_program(value)
    return out


class PartPrograms:
    """The program of every part (defaults, then the config's `programs`, then OSC), and the
    events that select them. enabled=False (`--no-program`) sends and records nothing."""

    def __init__(self, overrides: Mapping[str, object] | None = None, enabled: bool = True) -> None:
        self.table: dict[str, Program] = dict(DEFAULT_PROGRAMS)
        self.explicit: set[str] = set()
        self.enabled = enabled
        for part, value in (overrides or {}).items():
            self.set(part, value)

    def get(self, part: str) -> Program:
        return self.table.get(part, DEFAULT_PROGRAM)

    def set(self, part: str, value: object) -> Program:
        p = parse_program(value)
        self.table[part] = p
        self.explicit.add(part)
        return p

    def events(self, channels: Mapping[str, int], parts: Iterable[str] | None = None) -> list[OutEvent]:
        """Bank select MSB, LSB, then the program change, for each part (channels 1-based). A part
        on the drum channel gets nothing unless its program was set explicitly; two parts sharing
        a channel: the first one named wins (a synth channel has one program)."""
        if not self.enabled:
            return []
        evs: list[OutEvent] = []
        done: set[int] = set()
        for part in (channels if parts is None else parts):
            ch = channels.get(part)
            if ch is None or ch in done or (ch == DRUM_CHANNEL and part not in self.explicit):
                continue
            done.add(ch)
            evs.extend(program_events(ch - 1, self.get(part), part))
        return evs


def program_events(channel: int, program: Program, part: str = "") -> list[OutEvent]:
    """CC0 (bank MSB), CC32 (bank LSB), program change, on a 0-based channel."""
    return [OutEvent.control(channel, CC_BANK_MSB, program.bank >> 7, part),
            OutEvent.control(channel, CC_BANK_LSB, program.bank & 127, part),
            OutEvent.program(channel, program.program, part)]
