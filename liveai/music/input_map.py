"""Accessible play: few inputs drive full music (`--input-map`).

Each map turns one incoming note message into the notes the player means. All are small pure
state machines on mido messages, so they are tested without ports or clocks.

- degrees: the white keys C D E F G A B play scale degrees 1-7 of the key (`--key`), so any key
  sounds right; black keys are ignored.
- pads: eight pads (any 8 consecutive notes from `base`, e.g. a pad controller's 36-43) steer a
  melody's contour, as Piano Genie does: a higher pad moves the melody up, by as many scale steps
  as the pads are apart, a lower one down; the same pad repeats the note.
- chord: one finger sounds a full chord: the diatonic triad of the key on the note played.
"""
from __future__ import annotations

from typing import Callable

import mido

from liveai.music.theory import Key

MAPS = ("degrees", "pads", "chord")
_WHITE = {0: 0, 2: 1, 4: 2, 5: 3, 7: 4, 9: 5, 11: 6}


def _scale_pitch(key: Key, degree: int, octave_base: int) -> int:
    """Scale degree (0-based, may exceed 6) of key, above the C of octave_base."""
    scale = [(key.tonic + d) % 12 for d in ((0, 2, 3, 5, 7, 8, 10) if key.minor else (0, 2, 4, 5, 7, 9, 11))]
    octv, deg = divmod(degree, 7)
    pc = scale[deg]
    root = octave_base + key.tonic
    p = octave_base + pc + 12 * octv
    if p < root:
        p += 12
    return p


class DegreesMap:
    def __init__(self, key: Key) -> None:
        self.key = key
        self.sounding: dict[int, int] = {}

    def __call__(self, msg: mido.Message) -> list[mido.Message]:
        if msg.type == "note_on" and msg.velocity > 0:
            deg = _WHITE.get(msg.note % 12)
            if deg is None:
                return []
            octave_base = msg.note - msg.note % 12
            p = _scale_pitch(self.key, deg, octave_base)
            self.sounding[msg.note] = p
            return [msg.copy(note=p)]
        p = self.sounding.pop(msg.note, None)
        return [] if p is None else [mido.Message("note_off", channel=msg.channel, note=p)]


class PadsMap:
    def __init__(self, key: Key, base: int = 36, center: int = 67) -> None:
        self.key = key
        self.base = base
        self.center = center
        self.last_pad: int | None = None
        self.degree = 0  # scale degree index relative to the key's tonic at `center`'s octave
        self.sounding: dict[int, int] = {}

    def _pitch(self) -> int:
        octave_base = self.center - self.center % 12
        p = _scale_pitch(self.key, self.degree % 7, octave_base) + 12 * (self.degree // 7)
        return max(36, min(96, p))

    def __call__(self, msg: mido.Message) -> list[mido.Message]:
        pad = msg.note - self.base
        if not 0 <= pad < 8:
            return []
        if msg.type == "note_on" and msg.velocity > 0:
            if self.last_pad is None:
                self.degree = pad  # the first pad picks a place in the scale
            else:
                self.degree += pad - self.last_pad
            self.degree = max(-7, min(14, self.degree))
            self.last_pad = pad
            p = self._pitch()
            self.sounding[msg.note] = p
            return [msg.copy(note=p)]
        p = self.sounding.pop(msg.note, None)
        return [] if p is None else [mido.Message("note_off", channel=msg.channel, note=p)]


class ChordMap:
    def __init__(self, key: Key) -> None:
        self.key = key
        self.sounding: dict[int, list[int]] = {}

    def __call__(self, msg: mido.Message) -> list[mido.Message]:
        if msg.type == "note_on" and msg.velocity > 0:
            scale = self.key.scale
            pc = msg.note % 12
            if pc not in scale:  # a chromatic note: the major triad on it
                notes = [msg.note, msg.note + 4, msg.note + 7]
            else:
                i = scale.index(pc)
                notes = [msg.note]
                for k in (2, 4):
                    q = scale[(i + k) % 7]
                    notes.append(msg.note + (q - pc) % 12)
            self.sounding[msg.note] = notes
            return [msg.copy(note=n) for n in notes if n <= 127]
        notes = self.sounding.pop(msg.note, [])
        return [mido.Message("note_off", channel=msg.channel, note=n) for n in notes if n <= 127]


def make_input_map(name: str, key: Key) -> Callable[[mido.Message], list[mido.Message]]:
    if name == "degrees":
        return DegreesMap(key)
    if name == "pads":
        return PadsMap(key)
    if name == "chord":
        return ChordMap(key)
    raise ValueError(f"unknown input map {name!r}; known: {', '.join(MAPS)}")


def parse_key(text: str) -> Key:
    """'D', 'Bb', 'F#m', 'A minor' -> Key."""
    from liveai.music.theory import LETTER_PCS as _NAMES
    t = text.strip()
    minor = t.endswith("m") or t.lower().endswith("minor")
    name = t.split()[0].rstrip("m") if t else ""
    if not name or name[0].upper() not in _NAMES:
        raise ValueError(f"unknown key {text!r}; write e.g. C, Bb, F#m or 'A minor'")
    pc = _NAMES[name[0].upper()]
    for ch in name[1:]:
        if ch == "#":
            pc += 1
        elif ch == "b":
            pc -= 1
        else:
            raise ValueError(f"unknown key {text!r}")
    return Key(pc % 12, minor)
