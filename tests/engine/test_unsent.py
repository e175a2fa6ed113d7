"""Committed steps the sender has not taken yet (liveai.engine.unsent): a chord heard while the
note's own step and the one after it both wait is played at the note's own step, never a 16th late,
and never on top of the old chord."""
import mido
import pytest

from liveai.engine.unsent import derive, keep_to, sent_anyway
from liveai.generators.base import HOLD, REST, note
from liveai.music.theory import ChordSymbol
from liveai.io.output import OutEvent
from tests.helpers import feed, sim_engine, sounding_after

F_MAJOR = ChordSymbol(5, "maj")


def part_note(v, pitch, vel):
    return OutEvent.note_on(0, pitch, vel, v)


def test_derive_ends_what_a_voice_sent_before_its_new_note_and_holds_keep_it():
    full = {"bass": note(41, 80), "tenor": HOLD, "alto": REST}
    offs, ons, emitted, sounding = derive(full, {"bass": (0, 48), "tenor": (0, 55), "alto": (0, 64)},
                                          {"bass": 48, "tenor": 55, "alto": 64}, part_note)
    assert [(e.kind, e.data1) for e in offs] == [("off", 48), ("off", 64)]
    assert [(e.kind, e.data1) for e in ons] == [("on", 41)]
    assert emitted == {"bass": (0, 41), "tenor": (0, 55)}
    assert sounding == {"bass": 41, "tenor": 55, "alto": None}


def test_keep_to_holds_the_notes_of_an_old_plan_that_clash_with_the_new_chord():
    full = {"bass": note(48, 80), "tenor": note(57, 80), "alto": note(67, 80), "drums.kick": note(36, 90)}
    kept = keep_to(full, F_MAJOR)
    assert kept["bass"] == HOLD  # C is a tone of F, but a bass keeps to the root
    assert kept["tenor"] == full["tenor"]  # A fits
    assert kept["alto"] == HOLD  # G does not
    assert kept["drums.kick"] == full["drums.kick"]  # drums are not harmony


def test_a_step_sent_while_it_was_rewritten_leaves_nothing_hanging():
    # before the step: the alto had been moved (now) from E4 to F4; the old step, derived from E4,
    # struck G4 over it: F4 is still sounding and owed its note-off; the state follows the old step
    old = ({"alto": note(67, 80), "tenor": HOLD}, {"alto": (0, 64), "tenor": (0, 57)}, {"alto": 64, "tenor": 57})
    emitted, sounding, stale = sent_anyway(old, {"alto": (0, 65), "tenor": (0, 57)}, {"alto": 65, "tenor": 57},
                                           part_note)
    assert [(e.kind, e.data1) for e in stale] == [("off", 65)]
    assert emitted == {"alto": (0, 67), "tenor": (0, 57)} and sounding == {"alto": 67, "tenor": 57}
    # a voice the old step ended itself is owed nothing
    _, _, stale = sent_anyway(old, {"alto": (0, 64)}, {"alto": 64}, part_note)
    assert stale == []


class Moving:
    """Strikes C3, G3 and E4, then moves the tenor to E3 at step 8 and the alto to G4 at step 9
    (both in C major): steps 8 and 9 each have events waiting for the sender."""
    name = "scripted"
    voices = ("bass", "tenor", "alto")

    def plan(self, ctx):
        if all(p is None for p in ctx.sounding.values()):
            return {"bass": note(48, 80), "tenor": note(55, 80), "alto": note(64, 80)}
        return {"bass": HOLD, "tenor": note(52, 80) if ctx.step == 8 else HOLD,
                "alto": note(67, 80) if ctx.step == 9 else HOLD}

    def observe(self, ctx, committed):
        pass

    def reset(self):
        pass


def f_major_struck_near_step_8(offset, ahead=None):
    """The player plays C5, then strikes F major (F4 A4 C5) `offset` seconds from step 8's time; the
    engine plans two steps ahead, so steps 8 and 9 are both committed when the chord arrives.
    Returns (step of the event, kind, part, pitch) of the band's events, and the sink."""
    tempo = 100.0
    step_s = 60.0 / tempo / 4
    clock, eng, sink = sim_engine(generator=Moving(), tempo=tempo, idle_bars=0, lookahead_steps=2, ahead=ahead)
    evs = [(0.0, mido.Message("note_on", note=72, velocity=90)),
           (8 * step_s - 0.01, mido.Message("note_off", note=72))]
    evs += [(8 * step_s + offset, mido.Message("note_on", note=p, velocity=90)) for p in (65, 69, 72)]
    evs += [(16 * step_s, mido.Message("note_off", note=p)) for p in (65, 69, 72)]
    end = feed(clock, eng, evs)
    clock.call_at(end + 1.0, eng.stop_transport)
    clock.run(until=end + 2.0)
    eng.shutdown()
    out = [(round((t - 1.0) / step_s, 3), e.kind, e.part, e.data1) for t, e in sink.events
           if e.part in Moving.voices]
    return out, sink


def _lengths(events):
    """(on, off) step of every note, per part and pitch."""
    on, out = {}, []
    for step, kind, part, pitch in events:
        if kind == "on":
            on[(part, pitch)] = step
        elif kind == "off" and (part, pitch) in on:
            out.append((on.pop((part, pitch)), step))
    return out


def _mono(events):
    """No voice ever sounds two notes at once."""
    on = {}
    for _, kind, part, pitch in events:
        if kind == "on":
            assert part not in on, (part, pitch, on)
            on[part] = pitch
        elif kind == "off" and on.get(part) == pitch:
            del on[part]


@pytest.mark.parametrize("ahead", [None, 0.030], ids=["sender-thread", "handed-ahead"])
@pytest.mark.parametrize("offset", [-0.001, 0.001])
def test_a_chord_heard_while_two_steps_wait_sounds_at_the_notes_own_step(offset, ahead):
    """Also where the step was handed to the sender process 30 ms before it is due: it is rewritten
    there (issue 25: the sender process keeps the engine's corrections)."""
    events, sink = f_major_struck_near_step_8(offset, ahead)
    assert sounding_after(sink) == set()
    _mono(events)
    step_s = 60.0 / 100.0 / 4
    at = 8.0 if offset < 0 else round(8.0 + offset / step_s, 3)
    # struck just after step 8 went out: the tenor that step struck keeps its note MIN_SOUND_S
    # (never struck and cut at once, issue 28); the other voices move at once
    from liveai.engine.player import MIN_SOUND_S
    least = {at} if offset < 0 else {at, round(8.0 + MIN_SOUND_S / step_s, 3)}
    moved = {(part, pitch) for step, kind, part, pitch in events if kind == "on" and step in least and pitch % 12 in (5, 9, 0)}
    assert ("bass", 53) in moved and len(moved) == 3, events  # F major, the bass on F, from step 8
    assert all(b - a > 0 for a, b in _lengths(events)), events  # no note of zero length
    # nothing of the old plan after it: no alto G4 at step 9, nor any note at all there
    assert not [e for e in events if e[0] == 9.0], events
    if offset < 0:  # struck before step 8 was sent: its planned tenor E3 never sounds (no flam)
        assert ("tenor", 52) not in {(p, n) for _, k, p, n in events if k == "on"}


def test_without_the_second_step_the_chord_also_sounds_at_once():
    """Control, planning one step ahead: the same chord, struck just after step 8 went out."""
    tempo = 100.0
    step_s = 60.0 / tempo / 4
    clock, eng, sink = sim_engine(generator=Moving(), tempo=tempo, idle_bars=0, lookahead_steps=1)
    evs = [(0.0, mido.Message("note_on", note=72, velocity=90)),
           (8 * step_s - 0.01, mido.Message("note_off", note=72))]
    evs += [(8 * step_s + 0.001, mido.Message("note_on", note=p, velocity=90)) for p in (65, 69, 72)]
    evs += [(16 * step_s, mido.Message("note_off", note=p)) for p in (65, 69, 72)]
    end = feed(clock, eng, evs)
    clock.call_at(end + 1.0, eng.stop_transport)
    clock.run(until=end + 2.0)
    eng.shutdown()
    ons = [(round((t - 1.0) / step_s, 3), e.part, e.data1) for t, e in sink.events if e.kind == "on"
           and e.part == "bass"]
    assert (8.007, "bass", 53) in ons
    assert sounding_after(sink) == set()


class Restriking:
    """Re-strikes the bass every step and moves the tenor and alto at step 6: every step waits
    with events, however many the engine has committed."""
    name = "scripted"
    voices = ("bass", "tenor", "alto")

    def plan(self, ctx):
        if all(p is None for p in ctx.sounding.values()):
            return {"bass": note(48, 80), "tenor": note(55, 80), "alto": note(64, 80)}
        return {"bass": note(48, 80), "tenor": note(52, 80) if ctx.step == 6 else HOLD,
                "alto": note(67, 80) if ctx.step == 6 else HOLD}

    def observe(self, ctx, committed):
        pass

    def reset(self):
        pass


@pytest.mark.parametrize("ahead", [None, 0.030], ids=["sender-thread", "handed-ahead"])
@pytest.mark.parametrize("lookahead,swing,strike", [(2, 0.0, 6.3), (3, 0.0, 6.3), (3, 1.0, 6.3), (4, 0.0, 5.7),
                                                    (6, 0.0, 5.7)])
def test_the_engine_knows_every_note_it_left_sounding_however_many_steps_wait(lookahead, swing, strike, ahead):
    """F major struck while three to six committed steps wait (a long lookahead, or a swung step
    sounding late): the notes the output has sounding are exactly the ones the engine will end.
    (Found in review: keeping only the last three unsent steps hung the oldest one's notes.)"""
    tempo = 100.0
    step_s = 60.0 / tempo / 4
    clock, eng, sink = sim_engine(generator=Restriking(), tempo=tempo, idle_bars=0, lookahead_steps=lookahead,
                                  swing=swing, ahead=ahead)
    evs = [(0.0, mido.Message("note_on", note=72, velocity=90)),
           (strike * step_s - 0.05, mido.Message("note_off", note=72))]
    evs += [(strike * step_s, mido.Message("note_on", note=p, velocity=90)) for p in (65, 69, 72)]
    evs += [(16 * step_s, mido.Message("note_off", note=p)) for p in (65, 69, 72)]
    end = feed(clock, eng, evs)
    seen = {}

    def look():
        seen["output"] = {(c, p) for c, p, part in eng.scheduler.tracker.sounding() if part in Restriking.voices}
        seen["engine"] = set(eng._voice_state.emitted.values())

    clock.call_at(end + 0.5, look)
    clock.call_at(end + 1.0, eng.stop_transport)
    clock.run(until=end + 2.0)
    eng.shutdown()
    assert seen["output"] and seen["output"] == seen["engine"], seen
    by_part = {}
    for c, p in seen["output"]:
        by_part[c] = by_part.get(c, 0) + 1
    assert all(n == 1 for n in by_part.values()), seen  # one note a voice (each voice has its channel)


def test_waiting_drops_what_was_sent_and_refuses_a_broken_chain():
    from liveai.engine.unsent import UnsentStep, waiting

    class Handle:
        def __init__(self, sent):
            self.sent = sent

    def u(step, sent):
        return UnsentStep(step, float(step), Handle(sent), {}, {}, {}, False)

    a, b, c = u(1, True), u(2, False), u(3, False)
    assert waiting([a, b, c]) == [b, c]
    assert waiting([a]) == []
    assert waiting([b, u(3, True)]) is None  # a later step went out before an earlier one
