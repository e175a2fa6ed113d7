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


def test_a_chord_goes_to_each_output_whole_before_the_next_and_the_listeners_last():
    """The MIDI port (first output) gets every note of a chord before the OSC copies and the
    listeners see any: a chord's last note never waits behind the first note's copies. An output
    that takes a batch (the sender process: one write, one wake-up) gets it in one call."""
    c = SimClock()
    order = []

    class Batch(ListOutput):
        name = "batch"

        def send_many(self, events):
            order.append(("batch", [e.data1 for e in events]))

    class Single(ListOutput):
        name = "single"

        def send(self, ev):
            order.append(("single", ev.data1))

    s = Scheduler(c, [Batch(c), Single(c)])
    s.listeners.append(lambda t, ev: order.append(("heard", ev.data1)))
    chord = [OutEvent.note_on(0, p, 90, "tenor") for p in (48, 52, 55)]
    s.now(chord)
    c.run()
    assert order == [("batch", [48, 52, 55]), ("single", 48), ("single", 52), ("single", 55),
                     ("heard", 48), ("heard", 52), ("heard", 55)]
    order.clear()
    s.now([OutEvent.note_on(0, 60, 90, "alto")])  # one event: the plain send (a batch of one buys nothing)
    c.run()
    assert order == [("single", 60), ("heard", 60)]  # Batch.send is ListOutput's: recorded, not in `order`


def test_a_failing_output_loses_only_the_event_it_failed_on():
    class Flaky(ListOutput):
        name = "flaky"

        def send(self, ev):
            if ev.data1 == 52:
                raise OSError("buffer full")
            super().send(ev)

    c = SimClock()
    flaky, good = Flaky(c), ListOutput(c)
    s = Scheduler(c, [flaky, good])
    s.now([OutEvent.note_on(0, p, 90, "tenor") for p in (48, 52, 55)])
    c.run()
    assert [e.data1 for _, e in flaky.events] == [48, 55]
    assert [e.data1 for _, e in good.events] == [48, 52, 55]


def _ahead(lookahead=0.03):
    from tests.helpers import AheadOutput
    c = SimClock()
    wire = ListOutput(c)
    out = AheadOutput(c, wire, lookahead)
    s = Scheduler(c, [out])
    s.set_latency(out, lookahead)
    heard = []
    s.listeners.append(lambda t, ev: heard.append((t, ev.data1)))
    return c, s, out, wire, heard


def test_a_step_handed_ahead_is_rewritten_there_until_due_and_the_tracker_follows():
    c, s, out, wire, heard = _ahead()
    p = s.at_amendable(1.0, [OutEvent.note_on(0, 60, 90, "tenor")])
    results = []
    c.call_at(0.99, lambda: results.append(p.amend([OutEvent.note_on(0, 62, 90, "tenor")])))
    c.call_at(1.01, lambda: results.append(p.amend([OutEvent.note_on(0, 64, 90, "tenor")])))
    c.run(until=2.0)
    assert out.handed == 1 and results == [True, False]
    assert [(t, e.data1) for t, e in wire.events] == [(1.0, 62)]
    assert heard == [(1.0, 62)]  # listeners (the take, the view) hear it once, as it sounded
    assert s.tracker.sounding() == [(0, 62, "tenor")]


def test_a_note_admitted_on_the_same_key_since_hand_over_keeps_the_step_as_it_was():
    """A reactive note between hand-over and the rewrite touched the step's key: the tracker's count
    for it cannot be undone alone, so the step stays (the engine then ends what it did not)."""
    c, s, out, wire, heard = _ahead()
    p = s.at_amendable(1.0, [OutEvent.note_on(0, 60, 90, "tenor")])
    results = []
    c.call_at(0.98, lambda: s.now([OutEvent.note_on(0, 60, 70, "player")]))
    c.call_at(0.985, lambda: s.now([OutEvent.note_on(5, 72, 70, "player")]))
    c.call_at(0.99, lambda: results.append(p.amend([OutEvent.note_on(0, 62, 90, "tenor")])))
    c.run(until=2.0)
    assert results == [False] and out.rewrites == 0
    assert [e.data1 for _, e in wire.events if e.part == "tenor"] == [60]


def test_an_answer_that_the_step_went_out_puts_the_tracker_back():
    c, s, out, wire, heard = _ahead()
    p = s.at_amendable(1.0, [OutEvent.note_on(0, 60, 90, "tenor")])
    results = []
    c.call_at(0.985, out.queue.pop)  # the process sent it while the engine was rewriting it
    c.call_at(0.99, lambda: results.append(p.amend([OutEvent.note_on(0, 62, 90, "tenor")])))
    c.run(until=2.0)
    assert results == [False] and out.refused == 1 and p.sent
    assert s.tracker.sounding() == [(0, 60, "tenor")]


def test_a_panic_after_hand_over_drops_the_step_and_refuses_its_rewrite():
    c, s, out, wire, heard = _ahead()
    p = s.at_amendable(1.0, [OutEvent.note_on(0, 60, 90, "tenor")])
    results = []
    c.call_at(0.98, s.release_all_now)
    c.call_at(0.99, lambda: results.append(p.amend([OutEvent.note_on(0, 62, 90, "tenor")])))
    c.run(until=2.0)
    assert results == [False]
    assert not [e for _, e in wire.events if e.kind == "on"] and s.tracker.sounding() == []


def test_a_panic_with_timed_osc_bundles_still_ends_every_note():
    """Review of issue 25: an OSC output with bundles is timed; a panic asks every timed output to
    drop what it holds, and must still send the note-offs (it raised before they went out)."""
    from liveai.io.osc import OscOutput
    c = SimClock()
    wire = ListOutput(c)
    osc = OscOutput([], bundle_latency=0.05)
    s = Scheduler(c, [wire, osc])
    s.set_latency(osc, osc.early)
    s.at_amendable(1.0, [OutEvent.note_on(0, 60, 90, "tenor")])
    c.call_at(1.5, s.release_all_now)
    c.run(until=2.0)
    osc.close()
    assert [(e.kind, e.data1) for _, e in wire.events if e.kind in ("on", "off")] == [("on", 60), ("off", 60)]
    assert s.tracker.sounding() == []


def test_once_an_output_at_the_due_time_took_the_step_it_is_no_longer_rewritten():
    """Review of issue 25: the take and the OSC notes get the step at its due time; a rewrite after
    that must be refused, or the wire and the take would differ."""
    c, s, out, wire, heard = _ahead()
    sink = ListOutput(c)
    s.outputs.append(sink)
    p = s.at_amendable(1.0, [OutEvent.note_on(0, 60, 90, "tenor")])
    out.queue.push(5.0, 0, OutEvent.note_on(9, 1, 1, "x"))  # keep the process's queue busy
    c.call_at(1.0, lambda: None)
    c.run(until=1.0)
    assert p.sent and p.amend([OutEvent.note_on(0, 62, 90, "tenor")]) is False
