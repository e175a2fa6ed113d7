"""Output events and the one tiny interface every output device implements.

An OutEvent carries its wire bytes, built when the note is planned (ahead of time), so that the
sender does nothing at the deadline but hand bytes to the devices.
"""
from __future__ import annotations

import functools
import logging
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Iterable

from pythonosc.osc_message_builder import OscMessageBuilder

log = logging.getLogger(__name__)

NOTE_ON, NOTE_OFF, CONTROL, PROGRAM = "on", "off", "cc", "pc"
CC_SUSTAIN, CC_ALL_SOUND_OFF, CC_ALL_NOTES_OFF = 64, 120, 123


@functools.lru_cache(maxsize=4096)
def osc_note_datagram(part: str, pitch: int, velocity: int) -> bytes:
    """`/liveai/<part>/note ii` (velocity 0 is the note-off), as sent over UDP. Built only when
    an OSC output sends it (issue 25: a run without OSC builds none), then kept: a song has few
    distinct (part, pitch, velocity)."""
    b = OscMessageBuilder(address=f"/liveai/{part}/note")
    b.add_arg(int(pitch), "i")
    b.add_arg(int(velocity), "i")
    return b.build().dgram


@dataclass(frozen=True, slots=True)
class OutEvent:
    """One MIDI message to all outputs. channel is 0-15. part names the engine part (voice)."""

    kind: str
    channel: int
    data1: int
    data2: int
    part: str = ""
    midi: tuple[int, ...] = field(default=(), compare=False)

    @property
    def osc(self) -> bytes | None:
        """The note as an OSC datagram (None for what is not a part's note)."""
        if not self.part or self.kind not in (NOTE_ON, NOTE_OFF):
            return None
        return osc_note_datagram(self.part, self.data1, self.data2 if self.kind == NOTE_ON else 0)

    @classmethod
    def note_on(cls, channel: int, pitch: int, velocity: int, part: str) -> "OutEvent":
        velocity = max(1, min(127, int(velocity)))
        return cls(NOTE_ON, channel, pitch, velocity, part, (0x90 | channel, pitch, velocity))

    @classmethod
    def note_off(cls, channel: int, pitch: int, part: str) -> "OutEvent":
        return cls(NOTE_OFF, channel, pitch, 0, part, (0x80 | channel, pitch, 0))

    @classmethod
    def control(cls, channel: int, cc: int, value: int, part: str = "") -> "OutEvent":
        return cls(CONTROL, channel, cc, value, part, (0xB0 | channel, cc, value))

    @classmethod
    def program(cls, channel: int, program: int, part: str = "") -> "OutEvent":
        """A program change (liveai.io.programs sends it with its bank select)."""
        return cls(PROGRAM, channel, program, 0, part, (0xC0 | channel, program))


def reset_messages(sounding: Iterable[tuple[int, int, str]] = (), channels: Iterable[int] = range(16),
                   sound_off: bool = True) -> list[OutEvent]:
    """The one list that silences an output, built apart from sending it (as mido's
    ports.reset_messages): a note-off for each (channel, pitch, part) sounding, then on each
    channel sustain off (CC64 0), all notes off (CC123) and, with sound_off, all sound off (CC120).

    sound_off is for a reset of an unknown state (an output opening after a crash, the exit, a
    replugged synth): CC120 also cuts release tails and reverb, so the engine's own stop, tempo and
    mode changes (which know what sounds) leave it out."""
    evs = [OutEvent.note_off(ch, p, part) for ch, p, part in sounding]
    ccs = (CC_SUSTAIN, CC_ALL_NOTES_OFF, CC_ALL_SOUND_OFF) if sound_off else (CC_SUSTAIN, CC_ALL_NOTES_OFF)
    for ch in channels:
        evs.extend(OutEvent.control(ch, cc, 0) for cc in ccs)
    return evs


class OutputDevice:
    """Where events go: a MIDI port, OSC targets, the recorder. Subclasses implement send()."""

    name = "output"

    def send(self, ev: OutEvent) -> None:
        raise NotImplementedError

    def note_on(self, channel: int, pitch: int, velocity: int, part: str = "") -> None:
        self.send(OutEvent.note_on(channel, pitch, velocity, part))

    def note_off(self, channel: int, pitch: int, part: str = "") -> None:
        self.send(OutEvent.note_off(channel, pitch, part))

    def control(self, channel: int, cc: int, value: int) -> None:
        self.send(OutEvent.control(channel, cc, value))

    def close(self) -> None:
        pass


class ListOutput(OutputDevice):
    """Collects (time, event) pairs; used by the simulated demo and by tests as a real sink.

    keep: hold only the last `keep` events (a live session runs for hours: keeping every event
    was a leak of ~0.4 MB a minute, found by latency_bench.soak); notes_on counts note-ons per
    part whatever is kept, for the session summary."""

    name = "list"

    def __init__(self, clock=None, keep: int | None = None) -> None:
        self.clock = clock
        self.events: list[tuple[float, OutEvent]] | deque[tuple[float, OutEvent]] = (
            [] if keep is None else deque(maxlen=keep))
        self.notes_on: Counter[str] = Counter()

    def send(self, ev: OutEvent) -> None:
        self.events.append((self.clock.now() if self.clock else time.perf_counter(), ev))
        if ev.kind == "on":
            self.notes_on[ev.part] += 1


class NoteTracker:
    """What is really sounding, per (channel, pitch), reference-counted so that two voices on
    one channel sharing a pitch never cut each other off or leave the note hanging."""

    def __init__(self) -> None:
        self.count: dict[tuple[int, int], int] = {}
        self.parts: dict[tuple[int, int], str] = {}
        self.channels_used: set[int] = set()

    def admit(self, ev: OutEvent) -> bool:
        """Update the state for ev; True if ev must go out on the wire."""
        if ev.kind == NOTE_ON:
            key = (ev.channel, ev.data1)
            self.channels_used.add(ev.channel)
            n = self.count.get(key, 0)
            self.count[key] = n + 1
            self.parts[key] = ev.part
            return n == 0
        if ev.kind == NOTE_OFF:
            key = (ev.channel, ev.data1)
            n = self.count.get(key, 0)
            if n <= 1:
                self.count.pop(key, None)
                self.parts.pop(key, None)
                return n == 1
            self.count[key] = n - 1
            return False
        if ev.kind == PROGRAM or (ev.kind == CONTROL and ev.data1 in (0, 32)):
            return True  # choosing an instrument sounds nothing: no CC123 owed to that channel
        self.channels_used.add(ev.channel)
        return True

    def values(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], tuple[int, str | None]]:
        """The state of these (channel, pitch) keys, to put back with restore() (a step handed
        ahead and then rewritten has its admission undone: liveai.io.scheduler)."""
        return {k: (self.count.get(k, 0), self.parts.get(k)) for k in keys}

    def restore(self, values: dict[tuple[int, int], tuple[int, str | None]]) -> None:
        for k, (n, part) in values.items():
            if n:
                self.count[k] = n
                if part is not None:
                    self.parts[k] = part
            else:
                self.count.pop(k, None)
                self.parts.pop(k, None)

    def sounding(self) -> list[tuple[int, int, str]]:
        return [(ch, p, self.parts.get((ch, p), "")) for (ch, p) in sorted(self.count)]

    def release_all(self) -> list[OutEvent]:
        """Note-offs for everything sounding, then sustain off and CC123 on every channel used."""
        evs = reset_messages(self.sounding(), sorted(self.channels_used), sound_off=False)
        self.count.clear()
        self.parts.clear()
        return evs


class WireState:
    """What an output was told that a device coming back must be told again: each channel's bank
    and program, and the notes sounding on the wire (a raw byte view, so it sees every send,
    reactive or scheduled). The synth's watchdog and the JACK rejoin replay it."""

    def __init__(self) -> None:
        self.held: dict[tuple[int, int], list[int]] = {}  # (channel, note) -> its note-on
        self.setup: dict[tuple[int, int], list[int]] = {}  # (channel, CC 0/32 or -1 program) -> message
        self.channels: set[int] = set()

    def note(self, m: list[int]) -> None:
        if not m:
            return
        kind, ch = m[0] & 0xF0, m[0] & 0x0F
        if kind == 0x90 and len(m) > 2 and m[2] > 0:
            self.held[(ch, m[1])] = m
            self.channels.add(ch)
        elif kind in (0x80, 0x90) and len(m) > 1:
            self.held.pop((ch, m[1]), None)
        elif kind == 0xC0:
            self.setup[(ch, -1)] = m
        elif kind == 0xB0 and len(m) > 2 and m[1] in (0, 32):
            self.setup[(ch, m[1])] = m
        elif kind == 0xB0 and len(m) > 1 and m[1] in (CC_ALL_SOUND_OFF, CC_ALL_NOTES_OFF):
            for k in [k for k in self.held if k[0] == ch]:
                del self.held[k]

    def replay(self, notes: bool = True) -> list[list[int]]:
        """Banks before programs, then (with notes) the notes that should be sounding."""
        setup = [self.setup[k] for k in sorted(self.setup, key=lambda k: (k[0], k[1] == -1))]
        return setup + list(self.held.values()) if notes else setup
