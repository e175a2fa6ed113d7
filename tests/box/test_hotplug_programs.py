"""A replugged synth gets each part's instrument back before any new note."""
from __future__ import annotations

from liveai.box.hotplug import HotplugOutput
from liveai.io.midi import PortSpec
from liveai.io.output import OutEvent
from liveai.io.programs import PartPrograms


class Wire:
    """What reaches the device: the bytes handed to send_message, in order."""

    def __init__(self):
        self.sent = []

    def send_message(self, data):
        self.sent.append(tuple(data))


def test_reconnect_resends_programs_before_notes():
    out = HotplugOutput(PortSpec("alsa", "Synth", False, "out", True))
    first = Wire()
    out._attach(first)
    for ev in PartPrograms({"bass": 38}).events({"bass": 2, "tenor": 3}):
        out.send(ev)
    out.send(OutEvent.note_on(1, 40, 90, "bass"))
    out._detach()
    again = Wire()
    out._attach(again)
    progs = [m for m in again.sent if m[0] & 0xF0 in (0xC0,) or (m[0] & 0xF0 == 0xB0 and m[1] in (0, 32))]
    assert (0xC1, 38) in progs and (0xC2, 48) in progs
    assert progs.index((0xB1, 0, 0)) < progs.index((0xB1, 32, 0)) < progs.index((0xC1, 38))
    out.send(OutEvent.note_on(1, 41, 90, "bass"))
    assert again.sent[-1] == (0x91, 41, 90)  # the note comes after them
