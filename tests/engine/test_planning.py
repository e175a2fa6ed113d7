"""The engine's commit of a planned step (liveai.engine.planning): what it changes, now that the
player may have been heard after the step was planned."""
from liveai.generators.base import HOLD, REST, note
from liveai.harmony.chords import ChordSymbol
from liveai.music.notes import PlayerNote
from tests.helpers import sim_engine

C_MAJOR = ChordSymbol(0, "maj")


def engine_hearing(*melody):
    """A simulated engine whose player has played these (pitch, start step) notes, still held,
    and whose alto and tenor sound G3 and E3."""
    _, eng, _ = sim_engine()
    eng._player = [PlayerNote(p, 80, s, None, 0.0) for p, s in melody]
    eng._sounding.update({"bass": 48, "tenor": 52, "alto": 55})
    return eng


def test_an_inner_voice_does_not_copy_a_melody_note_begun_just_before_the_step():
    eng = engine_hearing((76, 9))  # E5 began one step before step 10
    plan = {"bass": HOLD, "tenor": HOLD, "alto": note(64, 80)}  # alto planned onto E4: an echo
    out = eng._no_echo(10, plan, C_MAJOR)
    assert out["alto"] == HOLD  # it keeps its G, a tone of the chord
    eng = engine_hearing((76, 8))  # two steps before: still the tune's note, still an echo
    assert eng._no_echo(10, plan, C_MAJOR)["alto"] == HOLD


def test_moves_that_are_not_echoes_stay_as_planned():
    plan = {"bass": note(43, 80), "tenor": note(60, 80), "alto": note(64, 80)}
    # the melody note began three steps before: heard when the step was planned, so the
    # planner's own echo penalty already judged it
    assert engine_hearing((76, 7))._no_echo(10, plan, C_MAJOR) == plan
    # another pitch class than the melody's: free to move
    assert engine_hearing((72, 9))._no_echo(10, plan, C_MAJOR)["alto"] == plan["alto"]
    # the bass keeps its line (its root at a change matters more)
    assert engine_hearing((67, 9))._no_echo(10, plan, C_MAJOR)["bass"] == plan["bass"]
    # an alto that sounds no tone of the chord must move, even onto the melody's note
    eng = engine_hearing((76, 9))
    eng._sounding["alto"] = 54  # F#3: not in C major
    assert eng._no_echo(10, plan, C_MAJOR)["alto"] == plan["alto"]
    # rests are rests
    assert engine_hearing((76, 9))._no_echo(10, {"alto": REST}, C_MAJOR) == {"alto": REST}
