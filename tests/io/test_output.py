"""Output devices (liveai/io/output.py)."""
from __future__ import annotations


def test_a_live_session_keeps_a_bounded_tail_of_its_output():
    """On stage the session's own sink must not grow with the hours (it did: ~0.4 MB a minute):
    a live session keeps its last LIVE_SINK_EVENTS events and counts its notes per part."""
    from liveai.app.run import LIVE_SINK_EVENTS
    from liveai.io.output import ListOutput, OutEvent
    sink = ListOutput(keep=LIVE_SINK_EVENTS)
    for i in range(3 * LIVE_SINK_EVENTS):
        sink.send(OutEvent.note_on(1, 60 + i % 12, 90, "bass"))
        sink.send(OutEvent.note_off(1, 60 + i % 12, "bass"))
    assert len(sink.events) == LIVE_SINK_EVENTS
    assert sink.events[-1][1].kind == "off"
    assert sink.notes_on == {"bass": 3 * LIVE_SINK_EVENTS}


def test_reset_messages_is_the_one_list_that_silences_an_output():
    """Built apart from sending: note-offs for what sounds, then per channel CC64 0, CC123, CC120."""
    from liveai.io.output import CC_ALL_NOTES_OFF, CC_ALL_SOUND_OFF, CC_SUSTAIN, reset_messages
    evs = reset_messages([(0, 60, "bass"), (3, 72, "alto")], channels=(0, 3))
    assert [(e.kind, e.channel, e.data1, e.data2, e.part) for e in evs] == [
        ("off", 0, 60, 0, "bass"), ("off", 3, 72, 0, "alto"),
        ("cc", 0, CC_SUSTAIN, 0, ""), ("cc", 0, CC_ALL_NOTES_OFF, 0, ""), ("cc", 0, CC_ALL_SOUND_OFF, 0, ""),
        ("cc", 3, CC_SUSTAIN, 0, ""), ("cc", 3, CC_ALL_NOTES_OFF, 0, ""), ("cc", 3, CC_ALL_SOUND_OFF, 0, "")]
    assert [e.midi for e in evs[:3]] == [(0x80, 60, 0), (0x83, 72, 0), (0xB0, 64, 0)]
    full = reset_messages()  # an unknown state: every channel, nothing known to sound
    assert len(full) == 48 and {e.channel for e in full} == set(range(16))
    soft = reset_messages(channels=(5,), sound_off=False)  # the engine's own stop keeps release tails
    assert [(e.channel, e.data1) for e in soft] == [(5, CC_SUSTAIN), (5, CC_ALL_NOTES_OFF)]


def test_every_silencing_routine_sends_reset_messages():
    """The tracker's release, the reset of an opening output and the emergency off all send the
    list reset_messages builds (one implementation)."""
    from types import SimpleNamespace

    from liveai.app.run import emergency_off, reset_output
    from liveai.io.output import ListOutput, NoteTracker, OutEvent, reset_messages
    tr = NoteTracker()
    for ev in (OutEvent.note_on(2, 50, 90, "bass"), OutEvent.note_on(4, 67, 90, "alto")):
        tr.admit(ev)
    expect = reset_messages(tr.sounding(), [2, 4], sound_off=False)
    assert tr.release_all() == expect and tr.sounding() == []
    out = ListOutput()
    reset_output(out)
    assert [e for _, e in out.events] == reset_messages()
    tr.admit(OutEvent.note_on(1, 40, 90, "bass"))
    out2 = ListOutput()
    emergency_off(SimpleNamespace(scheduler=SimpleNamespace(tracker=tr, outputs=[out2])))
    assert [e for _, e in out2.events] == reset_messages([(1, 40, "bass")])
