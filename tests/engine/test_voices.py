"""The band's voice state (liveai.engine.voices.VoiceState): each transition the engine makes
through it, on fake sender handles."""
from liveai.engine.unsent import SplitHandle, UnsentStep
from liveai.engine.voices import VoiceState
from liveai.generators.base import HOLD, REST, note
from liveai.io.output import OutEvent

VOICES = ("bass", "tenor", "alto")


def part_note(v, pitch, vel):
    return OutEvent.note_on(0, pitch, vel, v)


class Handle:
    """A PendingEvents stand-in: sent or not, as the test says."""

    def __init__(self, sent=False):
        self.sent = sent


def step(vs, k, full, handle=None):
    """Commit one step through the state and hand it over, as Planning._commit does."""
    offs, ons, before_e, before_s = vs.commit(full, part_note)
    u = UnsentStep(k, float(k), handle or Handle(), dict(full), before_e, before_s, False)
    vs.hand_over(u)
    return u, offs, ons


def test_commit_moves_the_state_past_the_step_and_returns_where_it_started():
    vs = VoiceState(VOICES)
    offs, ons, before_e, before_s = vs.commit({"bass": note(48, 80), "tenor": note(55, 80), "alto": REST}, part_note)
    assert offs == [] and [e.data1 for e in ons] == [48, 55]
    assert before_e == {} and before_s == {v: None for v in VOICES}
    assert vs.emitted == {"bass": (0, 48), "tenor": (0, 55)} and vs.sounding == {"bass": 48, "tenor": 55, "alto": None}
    offs, _, before_e, before_s = vs.commit({"bass": note(43, 80), "tenor": HOLD, "alto": HOLD}, part_note)
    assert [e.data1 for e in offs] == [48] and before_s["bass"] == 48 and vs.sounding["bass"] == 43


def test_unsent_steps_chain_until_the_sender_takes_them():
    vs = VoiceState(VOICES)
    a, _, _ = step(vs, 1, {"bass": note(48, 80)})
    b, _, _ = step(vs, 2, {"tenor": note(55, 80)})
    assert vs.unsent == [a, b] and vs.waiting() == [a, b]
    assert vs.own_step(2) is b and vs.own_step(3) is None
    assert vs.after(a) is b.sounding and vs.after(b) is vs.sounding
    a.handle.sent = True  # the sender took the oldest: it drops from the front
    assert vs.waiting() == [b] and vs.own_step(1) is None
    c, _, _ = step(vs, 3, {"alto": note(64, 80)}, Handle(sent=True))  # went out at once: nothing to rewrite
    assert vs.unsent == []
    assert c not in vs.blooms


def test_a_chain_broken_out_of_order_is_not_rewritable():
    vs = VoiceState(VOICES)
    a, _, _ = step(vs, 1, {"bass": note(48, 80)})
    b, _, _ = step(vs, 2, {"tenor": note(55, 80)})
    b.handle.sent = True  # taken behind one still waiting
    assert vs.waiting() is None
    step(vs, 3, {"alto": note(64, 80)})
    assert vs.unsent == []


def test_a_split_step_blooms_until_its_late_send_goes():
    vs = VoiceState(VOICES)
    h = SplitHandle(Handle(), Handle(), frozenset({"alto"}))
    u, _, _ = step(vs, 1, {"alto": note(64, 80)}, h)
    assert vs.blooms == [u] and vs.blooming() is None  # nothing went out yet
    h.first.sent = True
    assert vs.blooming() is u
    h.late.sent = True
    assert vs.blooming() is None
    step(vs, 2, {"bass": note(48, 80)})
    assert vs.blooms == []


def test_rebloomed_moves_the_held_voices_where_the_rest_is_derived_from():
    vs = VoiceState(VOICES)
    h = SplitHandle(Handle(sent=True), Handle(), frozenset({"alto"}))
    vs.commit({"alto": note(64, 80), "bass": note(48, 80)}, part_note)
    u = UnsentStep(1, 1.0, h, {}, {}, {}, False)
    vs.rebloomed(u, ["alto"], {"alto": (0, 65)}, {"alto": 65})  # nothing waits: the latest state moves
    assert vs.emitted == {"alto": (0, 65), "bass": (0, 48)} and vs.sounding["alto"] == 65
    nxt, _, _ = step(vs, 2, {"bass": note(43, 80)})
    vs.rebloomed(u, ["alto"], {}, {"alto": None})  # a later step waits: its starting state moves
    assert "alto" not in nxt.emitted and nxt.sounding["alto"] is None
    assert vs.emitted["alto"] == (0, 65)


def test_strike_ends_each_voice_then_starts_it_voice_by_voice():
    vs = VoiceState(VOICES)
    vs.commit({"bass": note(48, 80), "tenor": note(55, 80)}, part_note)
    evs = vs.strike({"bass": 41, "alto": 69}, part_note, 90)
    assert [(e.kind, e.data1) for e in evs] == [("off", 48), ("on", 41), ("on", 69)]
    assert vs.emitted == {"bass": (0, 41), "tenor": (0, 55), "alto": (0, 69)}
    assert vs.sounding == {"bass": 41, "tenor": 55, "alto": 69}


def test_release_forgets_everything_and_new_voices_keep_the_notes_owed():
    vs = VoiceState(VOICES)
    step(vs, 1, {"bass": note(48, 80)})
    vs.new_voices(("comp.1",))
    assert vs.sounding == {"comp.1": None} and vs.unsent == [] and vs.emitted == {"bass": (0, 48)}
    step(vs, 2, {"comp.1": note(60, 80)})
    vs.release(VOICES)
    assert vs.sounding == {v: None for v in VOICES} and vs.emitted == {} and vs.unsent == [] == vs.blooms
    u, _, _ = step(vs, 3, {"bass": note(48, 80)})
    vs.rewritten({"bass": (0, 50)}, {"bass": 50})
    assert vs.emitted == {"bass": (0, 50)} and vs.unsent == [u]
    vs.forget_unsent()
    assert vs.unsent == [] and vs.emitted == {"bass": (0, 50)}
