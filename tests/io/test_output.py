"""Output devices (liveai/io/output.py)."""
from __future__ import annotations


def test_a_live_session_keeps_a_bounded_tail_of_its_output():
    """On stage the session's own sink must not grow with the hours (it did: ~0.4 MB a minute):
    a live session keeps its last LIVE_SINK_EVENTS events and counts its notes per part."""
    from liveai.app import LIVE_SINK_EVENTS
    from liveai.io.output import ListOutput, OutEvent
    sink = ListOutput(keep=LIVE_SINK_EVENTS)
    for i in range(3 * LIVE_SINK_EVENTS):
        sink.send(OutEvent.note_on(1, 60 + i % 12, 90, "bass"))
        sink.send(OutEvent.note_off(1, 60 + i % 12, "bass"))
    assert len(sink.events) == LIVE_SINK_EVENTS
    assert sink.events[-1][1].kind == "off"
    assert sink.notes_on == {"bass": 3 * LIVE_SINK_EVENTS}
