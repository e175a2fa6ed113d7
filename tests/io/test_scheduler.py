from liveai.timing.clock import SimClock
from liveai.io.output import CC_ALL_NOTES_OFF, ListOutput, NoteTracker, OutEvent
from liveai.io.scheduler import Scheduler


def test_tracker_refcounts_shared_pitches():
    tr = NoteTracker()
    on = OutEvent.note_on(2, 60, 90, "tenor")
    assert tr.admit(on) is True
    assert tr.admit(OutEvent.note_on(2, 60, 90, "alto")) is False
    assert tr.admit(OutEvent.note_off(2, 60, "alto")) is False
    assert tr.sounding() == [(2, 60, "alto")]
    assert tr.admit(OutEvent.note_off(2, 60, "tenor")) is True
    assert tr.admit(OutEvent.note_off(2, 60, "tenor")) is False  # nothing sounding: not sent
    assert tr.sounding() == []


def test_scheduler_emits_at_time_and_release_closes_everything():
    c = SimClock()
    out = ListOutput(c)
    s = Scheduler(c, [out])
    s.at(1.0, [OutEvent.note_on(0, 60, 100, "bass")])
    s.at(2.0, [OutEvent.note_on(1, 64, 100, "alto")])
    s.at(5.0, [OutEvent.note_on(1, 67, 100, "alto")])
    c.call_at(3.0, s.release_all)
    c.run()
    times = [(t, e.kind, e.channel, e.data1) for t, e in out.events]
    assert times[:2] == [(1.0, "on", 0, 60), (2.0, "on", 1, 64)]
    offs = [(e.channel, e.data1) for t, e in out.events if e.kind == "off"]
    assert sorted(offs) == [(0, 60), (1, 64)]
    assert {e.channel for t, e in out.events if e.kind == "cc" and e.data1 == CC_ALL_NOTES_OFF} == {0, 1}
    assert all(t <= 3.0 for t, _ in out.events), "the note planned after the release must not play"


def test_a_failing_output_does_not_stop_the_others():
    class Broken(ListOutput):
        name = "broken"

        def send(self, ev):
            raise OSError("port vanished")

    c = SimClock()
    good = ListOutput(c)
    s = Scheduler(c, [Broken(), good])
    s.at(0.5, [OutEvent.note_on(0, 60, 100, "bass")])
    c.run()
    assert len(good.events) == 1


def test_note_events_carry_osc_datagrams():
    from pythonosc.osc_message import OscMessage
    ev = OutEvent.note_on(0, 60, 100, "bass")
    m = OscMessage(ev.osc)
    assert m.address == "/liveai/bass/note" and m.params == [60, 100]
    assert OscMessage(OutEvent.note_off(0, 60, "bass").osc).params == [60, 0]
