"""The sender process's pipe: what the engine writes to it (liveai.io.sender) and what the process
makes of it (liveai.io.sendproc)."""
import os
import threading

from liveai.io.output import OutEvent
from liveai.io.output import WireState
from liveai.io.sender import ProcessMidiOutput
from liveai.io.sendproc import _REC


def test_a_chord_is_one_write_of_the_records_its_notes_make_one_by_one():
    r, w = os.pipe()
    try:
        out = ProcessMidiOutput.__new__(ProcessMidiOutput)  # the writing end only: no child process
        out._fd, out._lock, out._down, out.state, out.lost_writes = w, threading.Lock(), False, WireState(), 0
        chord = [OutEvent.note_on(0, p, 90, "tenor") for p in (48, 52, 55)]
        for ev in chord:
            out.send(ev)
        one_by_one = os.read(r, 4096)
        out.send_many(chord)
        batch = os.read(r, 4096)
        assert batch == one_by_one and len(batch) == 3 * _REC.size
        when, step, n, data = _REC.unpack_from(batch, 2 * _REC.size)
        assert when < 0 and step == 0 and data[:n] == bytes([0x90, 55, 90])  # at once, the third note
    finally:
        os.close(r)
        os.close(w)


def _recs(*recs):
    return b"".join(_REC.pack(w, s, n, bytes(b).ljust(3, b"\0")) for w, s, n, b in recs)


def test_the_process_applies_a_rewrite_whole_at_its_end_and_answers_it():
    """The records of the sender process's pipe (liveai.io.sendproc.Inbox): a step queued, then
    rewritten in one transaction that arrives split across two reads; then a rewrite of a step
    that already went out is refused and answered 'late'."""
    from liveai.io.duequeue import DueQueue
    from liveai.io.sendproc import _BEGIN, _END, _STEP, Inbox
    q, sent, answers = DueQueue(), [], []
    box = Inbox(q, sent.append, answers.append)
    box.feed(_recs((5.0, 9, 3, [0x90, 60, 90]), (-1.0, 0, 3, [0x90, 40, 1])))
    assert sent == [[0x90, 40, 1]] and q.due() == 5.0
    rewrite = _recs((-1.0, 77, _BEGIN, []), (-1.0, 9, _STEP, []), (5.0, 9, 3, [0x90, 61, 90]),
                    (5.0, 9, 3, [0x90, 65, 90]), (-1.0, 77, _END, []))
    box.feed(rewrite[:23])
    assert answers == [] and q.remaining() == [[0x90, 60, 90]]
    box.feed(rewrite[23:])
    assert answers == ["ok 77"] and q.remaining() == [[0x90, 61, 90], [0x90, 65, 90]]
    q.pop()
    box.feed(_recs((-1.0, 78, _BEGIN, []), (-1.0, 9, _STEP, []), (-1.0, 78, _END, [])))
    assert answers[-1] == "late 78" and q.remaining() == [[0x90, 65, 90]]
