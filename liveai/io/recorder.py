"""Session recording to a type-1 standard MIDI file: a `player` track with exactly what came in and
one named track per engine part, every note closed. Events are kept in memory and written once,
at the end; a journal (liveai.io.takes) appends them to disk every second from a thread of its own,
so a crash loses at most that."""
from __future__ import annotations

import logging
import io
import os
import re
import time
from pathlib import Path

import mido

from liveai.io.output import NOTE_OFF, NOTE_ON, PROGRAM, OutEvent, OutputDevice
from liveai.io.safefile import write_file

log = logging.getLogger(__name__)

PPQ = 480
_SKIP = {"clock", "start", "stop", "continue", "active_sensing", "reset", "songpos", "sysex"}


class Recorder(OutputDevice):
    """An output device (engine parts) and a player listener (what came in)."""

    name = "recorder"

    def __init__(self, clock, bpm: float, meter=(4, 4), parts: tuple[str, ...] = ()) -> None:
        self.clock = clock
        self.bpm = bpm
        self.meter = meter
        self.parts = list(parts)
        self.start: float | None = None
        self.events: dict[str, list[tuple[float, mido.Message]]] = {"player": []}
        for p in self.parts:
            self.events[p] = []
        self.enabled = True
        self.log: list[tuple[str, float, mido.Message]] = []  # every event in arrival order, for the journal

    def _t(self, t: float) -> float:
        if self.start is None:
            self.start = t
        return max(0.0, t - self.start)

    def player(self, msg: mido.Message, t: float) -> None:
        if self.enabled and msg.type not in _SKIP:
            ev = (self._t(t), msg)
            self.events["player"].append(ev)
            self.log.append(("player", *ev))

    timed = True  # the Scheduler hands it each event's due time where an output sends at it

    def send(self, ev: OutEvent) -> None:
        self.send_at(ev, None)

    def send_at(self, ev: OutEvent, due: float | None) -> None:
        """due: when the event goes out on the wire, where an output sends at its due time (the
        sender process, handed its events ahead): the take says when the note sounded, not when
        this thread got to it (issue 25: a 15 ms stall of the engine's thread moved a chord in the
        take and not on the wire). None: now, as the event is sent."""
        if not self.enabled or ev.part == "player":  # the --thru echo: player() has what came in
            return
        track = ev.part or "engine"
        if self.start is None and ev.kind not in (NOTE_ON, NOTE_OFF):
            t = 0.0  # program and bank select sent as the outputs open: the take's first tick
        else:
            t = self._t(self.clock.now() if due is None else due)
        if ev.kind == NOTE_ON:
            msg = mido.Message("note_on", channel=ev.channel, note=ev.data1, velocity=ev.data2)
        elif ev.kind == NOTE_OFF:
            msg = mido.Message("note_off", channel=ev.channel, note=ev.data1, velocity=0)
        elif ev.kind == PROGRAM:
            msg = mido.Message("program_change", channel=ev.channel, program=ev.data1)
        else:
            msg = mido.Message("control_change", channel=ev.channel, control=ev.data1, value=ev.data2)
        self.events.setdefault(track, []).append((t, msg))
        self.log.append((track, t, msg))

    def cancel_pending(self) -> None:
        """Nothing waits here to be sent later (the Scheduler asks every timed output)."""

    def has_notes(self) -> bool:
        """Whether anything was played (a take of only program changes is no take)."""
        return any(m.type == "note_on" and m.velocity > 0 for evs in self.events.values() for _, m in evs)

    def to_midifile(self) -> mido.MidiFile:
        mf = mido.MidiFile(type=1, ticks_per_beat=PPQ)
        tempo = mido.bpm2tempo(self.bpm)
        sec_per_tick = tempo / 1e6 / PPQ
        conductor = mido.MidiTrack()
        conductor.append(mido.MetaMessage("track_name", name="liveai", time=0))
        conductor.append(mido.MetaMessage("set_tempo", tempo=tempo, time=0))
        conductor.append(mido.MetaMessage("time_signature", numerator=self.meter[0],
                                          denominator=self.meter[1], time=0))
        mf.tracks.append(conductor)
        end = max((t for evs in self.events.values() for t, _ in evs), default=0.0)
        for name, evs in self.events.items():
            track = mido.MidiTrack()
            track.append(mido.MetaMessage("track_name", name=name, time=0))
            evs = sorted(evs, key=lambda e: e[0])  # stable: same-time order kept
            open_notes: dict[tuple[int, int], int] = {}
            last = 0
            for t, msg in evs:
                tick = int(round(t / sec_per_tick))
                if msg.type == "note_on" and msg.velocity > 0:
                    open_notes[(msg.channel, msg.note)] = open_notes.get((msg.channel, msg.note), 0) + 1
                elif msg.type in ("note_off", "note_on"):
                    k = (msg.channel, msg.note)
                    if open_notes.get(k, 0) <= 0:
                        continue  # a note-off for nothing sounding (e.g. from a panic sweep)
                    open_notes[k] -= 1
                track.append(msg.copy(time=tick - last))
                last = tick
            tick = int(round(end / sec_per_tick))
            for (ch, p), n in open_notes.items():  # every note closed
                for _ in range(n):
                    track.append(mido.Message("note_off", channel=ch, note=p, velocity=0, time=max(0, tick - last)))
                    last = max(last, tick)
            mf.tracks.append(track)
        return mf

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically over a regular file, never over what is not one (liveai.io.safefile)."""
        buf = io.BytesIO()
        self.to_midifile().save(file=buf)
        write_file(path, buf.getvalue())
        return Path(path)


def session_filename(directory: str | os.PathLike, stamp: float | None = None, name: str = "") -> Path:
    """A new file name inside directory; any user-supplied name is sanitised to stay inside it."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120].strip("._") if name else ""  # a file name has 255 bytes
    if not base:
        base = time.strftime("liveai-%Y%m%d-%H%M%S", time.localtime(stamp))
    if not base.endswith(".mid"):
        base += ".mid"
    d = Path(directory).resolve()
    p = (d / base).resolve()
    if p.parent != d:
        raise ValueError(f"recording name {name!r} leaves {d}")
    return p
