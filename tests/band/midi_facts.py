"""Facts measured on a recorded .mid file (what the band really played): onsets per track with
their bar and position, and notes left hanging. Shared by the band tests."""
from __future__ import annotations

from dataclasses import dataclass

import mido


@dataclass(frozen=True)
class Onset:
    track: str
    tick: int
    pitch: int
    velocity: int
    channel: int
    bar: int
    beat: float  # position in the bar, in beats (quarters for x/4)


def read(path: str) -> tuple[list[Onset], int, int, list[tuple[str, int, int]]]:
    """(onsets, ticks per beat, beats per bar, hanging notes (track, channel, pitch))."""
    mf = mido.MidiFile(path)
    tpb = mf.ticks_per_beat
    beats = 4
    for msg in mf.tracks[0]:
        if msg.type == "time_signature":
            beats = msg.numerator * 4 // msg.denominator
    out: list[Onset] = []
    hanging = []
    for tr in mf.tracks[1:]:
        name = next((m.name for m in tr if m.type == "track_name"), "")
        t = 0
        open_: dict[tuple[int, int], int] = {}
        for m in tr:
            t += m.time
            if m.type == "note_on" and m.velocity > 0:
                open_[(m.channel, m.note)] = open_.get((m.channel, m.note), 0) + 1
                bar, rem = divmod(t, tpb * beats)
                out.append(Onset(name, t, m.note, m.velocity, m.channel, bar, rem / tpb))
            elif m.type in ("note_on", "note_off"):
                k = (m.channel, m.note)
                if open_.get(k, 0) > 0:
                    open_[k] -= 1
        hanging += [(name, ch, p) for (ch, p), n in open_.items() for _ in range(n)]
    return out, tpb, beats, hanging
