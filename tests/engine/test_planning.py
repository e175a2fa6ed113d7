"""The engine's commit of a planned step (liveai.engine.planning): what it changes, now that the
player may have been heard after the step was planned."""
import mido

from liveai.generators.base import HOLD, REST, note
from liveai.music.theory import ChordSymbol
from liveai.music.notes import PlayerNote
from tests.helpers import feed, sim_engine, sounding_after

C_MAJOR = ChordSymbol(0, "maj")
KNOWN = 8  # step 10 planned with the player known up to step 8 (the default lookahead)


def engine_hearing(*melody, sounding=None):
    """A simulated engine whose player has played these (pitch, start step) notes, still held,
    and whose bass, tenor and alto sound C3, E3 and G3 (or `sounding`)."""
    _, eng, _ = sim_engine()
    eng._player = [PlayerNote(p, 80, s, None, 0.0) for p, s in melody]
    eng._voice_state.sounding.update(sounding or {"bass": 48, "tenor": 52, "alto": 55})
    return eng


def test_an_inner_voice_does_not_copy_a_melody_note_heard_after_the_step_was_planned():
    plan = {"bass": HOLD, "tenor": HOLD, "alto": note(64, 80)}  # alto planned onto E4
    for start in (9, 10):  # E5 begun a step before, or at the step itself: an echo
        out = engine_hearing((76, start))._no_echo(10, KNOWN, plan, C_MAJOR)
        assert out["alto"] == HOLD  # it keeps its G, a tone of the chord
    plan = {"bass": HOLD, "tenor": note(55, 80), "alto": HOLD}  # the tenor alike
    assert engine_hearing((79, 9))._no_echo(10, KNOWN, plan, C_MAJOR)["tenor"] == HOLD


def test_moves_that_are_not_late_echoes_stay_as_planned():
    plan = {"bass": note(43, 80), "tenor": note(60, 80), "alto": note(64, 80)}
    # the melody note began by step 8: the plan saw it, and the planner's own echo penalty judged it
    assert engine_hearing((76, 8))._no_echo(10, KNOWN, plan, C_MAJOR) == plan
    # another pitch class than the melody's: free to move
    assert engine_hearing((74, 9))._no_echo(10, KNOWN, plan, C_MAJOR) == plan
    # the bass keeps its line (its root at a change matters more)
    assert engine_hearing((67, 9))._no_echo(10, KNOWN, plan, C_MAJOR)["bass"] == plan["bass"]
    # an alto that sounds no tone of the chord must move, even onto the melody's note
    eng = engine_hearing((76, 9), sounding={"bass": 48, "tenor": 52, "alto": 54})  # F#3
    assert eng._no_echo(10, KNOWN, plan, C_MAJOR)["alto"] == plan["alto"]
    # rests are rests
    assert engine_hearing((76, 9))._no_echo(10, KNOWN, {"alto": REST}, C_MAJOR) == {"alto": REST}


def test_holding_never_puts_two_voices_on_one_note_or_crosses_them():
    # alto G4, tenor E4; the plan moves the alto to C5 and the tenor up to G4. The tune's C6 makes
    # the alto's C5 an echo, but holding G4 would put the tenor's G4 on the same note: the plan stands
    eng = engine_hearing((84, 9), sounding={"bass": 48, "tenor": 64, "alto": 67})
    plan = {"bass": HOLD, "tenor": note(67, 80), "alto": note(72, 80)}
    assert eng._no_echo(10, KNOWN, plan, C_MAJOR) == plan
    # alto E4, tenor C4, same plan: holding E4 would leave the tenor's G4 above the alto
    eng = engine_hearing((84, 9), sounding={"bass": 48, "tenor": 60, "alto": 64})
    assert eng._no_echo(10, KNOWN, plan, C_MAJOR) == plan


class Scripted:
    """Plays C3, G3 and E4 on the first step it plans, then moves only the alto, to G4, at step 9."""
    name = "scripted"  # (not "rules": the engine plans the chord from the melody)
    voices = ("bass", "tenor", "alto")

    def plan(self, ctx):
        if all(p is None for p in ctx.sounding.values()):
            return {"bass": note(48, 80), "tenor": note(55, 80), "alto": note(64, 80)}
        return {"bass": HOLD, "tenor": HOLD, "alto": note(67, 80) if ctx.step == 9 else HOLD}

    def observe(self, ctx, committed):
        pass

    def reset(self):
        pass


def alto_at_step_9(third_note):
    """The alto's note-ons at step 9 when the player plays C5, E5 and then `third_note` on step 8."""
    tempo = 100.0
    step_s = 60.0 / tempo / 4
    clock, eng, sink = sim_engine(generator=Scripted(), tempo=tempo, idle_bars=0)
    evs = []
    for i, pitch in enumerate((72, 76, third_note)):
        evs += [(4 * i * step_s, mido.Message("note_on", note=pitch, velocity=90)),
                (4 * (i + 1) * step_s - 1e-3, mido.Message("note_off", note=pitch))]
    end = feed(clock, eng, evs)
    clock.call_at(end + 2.0, eng.stop_transport)
    clock.run(until=end + 3.0)
    eng.shutdown()
    t9 = 1.0 + 9 * step_s
    ons = [e for t, e in sink.events if e.kind == "on" and e.part == "alto" and abs(t - t9) < 1e-6]
    return [e.data1 for e in ons], sink


def test_through_the_engine_the_alto_holds_instead_of_echoing_the_tune_a_16th_late():
    pitches, sink = alto_at_step_9(79)  # the tune's G5 begins at step 8: the alto's G4 would echo it
    assert pitches == []
    assert sounding_after(sink) == set()
    # control: under a D5 the same planned move is no echo and is played
    pitches, sink = alto_at_step_9(74)
    assert pitches == [67]
    assert sounding_after(sink) == set()
