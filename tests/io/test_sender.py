"""The sender process's pipe (liveai.io.sender): what the engine writes to it."""
import os
import threading

from liveai.io.output import OutEvent
from liveai.io.sender import _REC, ProcessMidiOutput


def test_a_chord_is_one_write_of_the_records_its_notes_make_one_by_one():
    r, w = os.pipe()
    try:
        out = ProcessMidiOutput.__new__(ProcessMidiOutput)  # the writing end only: no child process
        out._fd, out._lock = w, threading.Lock()
        chord = [OutEvent.note_on(0, p, 90, "tenor") for p in (48, 52, 55)]
        for ev in chord:
            out.send(ev)
        one_by_one = os.read(r, 4096)
        out.send_many(chord)
        batch = os.read(r, 4096)
        assert batch == one_by_one and len(batch) == 3 * _REC.size
        when, n, data = _REC.unpack_from(batch, 2 * _REC.size)
        assert when < 0 and data[:n] == bytes([0x90, 55, 90])  # at once, the third note
    finally:
        os.close(r)
        os.close(w)
