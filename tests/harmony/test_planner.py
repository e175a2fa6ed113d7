"""The chord plan: causal, follows the harmonic rhythm, takes the player's chords at once."""
import mido
import pytest

from liveai.generators.base import PlayerNote, visible_player
from liveai.harmony.evidence import segment_steps
from liveai.harmony.keyfinding import melody_key
from liveai.harmony.planner import HarmonyPlanner, PlannerSettings
from liveai.music.theory import ChordSymbol, Key
from liveai.music.tunes import PLAIN_TUNES, TUNES
from tests.helpers import feed, sim_engine, sounding_after


def plan_tune(notes, steps_per_bar, total, settings=None, reveal=None):
    """Plan every step as the engine does (input up to k-2). reveal(k) -> the notes the planner may
    see at step k (default: what the engine shows)."""
    pl = HarmonyPlanner(settings)
    out = []
    for k in range(total):
        shown = reveal(k) if reveal else visible_player(notes, k - 2)
        out.append(pl.plan(k, steps_per_bar, k - 2, shown))
    return pl, out


def test_the_plan_never_hears_the_future():
    t = TUNES["ode"]
    notes = t.notes()
    total = t.total_steps
    _, plain = plan_tune(notes, 16, total)
    # the same planner shown the whole tune, future included, but cut to what was known: same plan
    _, cut = plan_tune(notes, 16, total, reveal=lambda k: [n for n in visible_player(notes, k - 2)])
    assert [p.chord for p in plain] == [p.chord for p in cut]
    # changing a note in the future never changes the chords planned before it was played
    changed = [PlayerNote(n.pitch + (1 if n.start_step >= 64 else 0), n.velocity, n.start_step, n.end_step)
               for n in notes]
    _, other = plan_tune(changed, 16, total)
    assert [p.chord for p in plain[:66]] == [p.chord for p in other[:66]]


@pytest.mark.parametrize("rhythm, seg", [("bar", 16), ("half", 8), ("beat", 4), ("auto", 8)])
def test_segments_follow_the_harmonic_rhythm(rhythm, seg):
    assert segment_steps(rhythm, 16) == seg
    assert segment_steps("auto", 12) == 12  # 3/4: a chord a bar


def test_planned_chords_change_only_at_segment_starts_or_when_corrected():
    t = PLAIN_TUNES["twinkle"]
    _, plan = plan_tune(t.notes(), 16, t.total_steps, PlannerSettings(harmonic_rhythm="bar"))
    for k in range(1, len(plan)):
        if plan[k].chord != plan[k - 1].chord and plan[k - 1].chord is not None:
            assert k % 16 == 0 or plan[k].source == "corrected", k


def heard_plan(t):
    """Plan a tune as the engine does: each step ahead, and each note heard the moment it starts
    (a downbeat note the planned chord cannot take corrects it at once)."""
    notes, truth, spb = t.notes(), t.chord_steps(), t.meter.steps_per_bar
    pl = HarmonyPlanner()
    chords = []
    for k in range(len(truth)):
        pl.plan(k, spb, k - 2, visible_player(notes, k - 2))
        arrived = [PlayerNote(n.pitch, n.velocity, n.start_step, n.end_step if n.end_step <= k else None)
                   for n in notes if n.start_step <= k]
        pl.hear_melody(arrived, k, spb)
        chords.append(pl.chord)
    return chords, truth, spb


def test_the_plan_implies_the_right_chord_more_often_than_the_tonic_chord():
    hits = tonic = n = 0
    for t in (*PLAIN_TUNES.values(), *TUNES.values()):
        chords, truth, spb = heard_plan(t)
        for k in range(spb, len(truth)):
            n += 1
            hits += chords[k] is not None and set(chords[k].triad) <= truth[k]
            tonic += {t.tonic, (t.tonic + 7) % 12} <= truth[k]  # "always the tonic chord"
    assert hits / n > tonic / n + 0.05, (hits / n, tonic / n)


def test_next_chord_is_planned_ahead():
    t = PLAIN_TUNES["blues-f"]
    _, plan = plan_tune(t.notes(), 16, t.total_steps)
    assert all(p.next_chord is not None for p in plan[20:])


def test_key_of_a_melody_after_a_few_notes():
    d = [PlayerNote(p, 80, 4 * i, 4 * i + 4) for i, p in enumerate((66, 66, 67, 69))]  # F# F# G A
    assert melody_key(d, 16) == Key(2, False)  # D major, not F# major
    em = [PlayerNote(p, 80, 4 * i, 4 * i + 4) for i, p in enumerate((64, 67, 71, 67, 69, 72, 71, 69, 71))]
    assert melody_key(em, 36) == Key(4, True)


def block(root_pitches, start, end):
    return [PlayerNote(p, 70, start, end, time=start * 0.125) for p in root_pitches]


def test_a_held_chord_is_the_harmony_and_a_cluster_keeps_it():
    notes = block((48, 52, 55), 0, 32) + [PlayerNote(72, 90, 0, 8, 0.0)]
    pl = HarmonyPlanner()
    plans = [pl.plan(k, 16, k - 2, visible_player(notes, k - 2)) for k in range(2, 20)]
    assert all(p.chord == ChordSymbol(0, "maj") and p.source == "played" for p in plans)
    cluster = block((48, 52, 55), 0, 16) + block((49, 50, 51), 16, 32)
    pl = HarmonyPlanner()
    plans = [pl.plan(k, 16, k - 2, visible_player(cluster, k - 2)) for k in range(2, 30)]
    assert plans[-1].chord == ChordSymbol(0, "maj")


def test_below_the_split_one_finger_plays_the_keys_chord():
    notes = [PlayerNote(p, 80, 4 * i, 4 * i + 4, 0.5 * i) for i, p in enumerate((74, 76, 78, 79, 81, 83))]
    notes += [PlayerNote(43, 80, 24, 40, 3.0)]  # one G below the split, in D major: G major
    notes.sort(key=lambda n: n.start_step)
    pl = HarmonyPlanner(PlannerSettings(split=54))
    for k in range(0, 30):
        cp = pl.plan(k, 16, k - 2, visible_player(notes, k - 2))
    assert cp.chord == ChordSymbol(7, "maj") and cp.source == "played"


def test_the_engine_changes_to_a_struck_chord_at_once_and_leaves_nothing_sounding():
    """The band is on C; the player strikes F major on a downbeat: from that step the band sounds
    only F-major tones (the chord is the harmony from the very step it is heard)."""
    clock, eng, sink = sim_engine(tempo=120.0)
    step = 60 / 120 / 4
    ev = []
    for bar, triad in enumerate(((48, 52, 55), (53, 57, 60), (55, 59, 62), (48, 52, 55))):
        for p in triad:
            ev.append((bar * 16 * step, mido.Message("note_on", note=p, velocity=70)))
            ev.append(((bar + 1) * 16 * step - 0.01, mido.Message("note_off", note=p)))
    ev.sort(key=lambda x: x[0])
    end = feed(clock, eng, ev)
    clock.call_at(end + 0.5, eng.stop_transport)
    clock.run(until=end + 1.0)
    eng.shutdown()
    assert sounding_after(sink) == set()
    # what the band sounds at each bar's downbeat, just after it
    for bar, pcs in enumerate(({0, 4, 7}, {5, 9, 0}, {7, 11, 2}, {0, 4, 7})):
        if bar == 0:
            continue
        t = 1.0 + bar * 16 * step + 1e-6
        on = {}
        for when, e in sink.events:
            if when > t:
                break
            if e.part == "player":
                continue
            k = (e.channel, e.data1)
            on[k] = on.get(k, 0) + (1 if e.kind == "on" else -1 if e.kind == "off" else 0)
        band = {p % 12 for (_, p), n in on.items() if n > 0}
        assert band and band <= pcs, (bar, band, pcs)
    assert eng.planner.played_chords >= 3


def test_a_players_learnt_progressions_move_the_transition_table_as_far_as_their_counts_say():
    """A personal model's card carries the player's chord-to-chord counts (liveai learn); the
    planner's expectation after I follows them, a little for a few, mostly for many; the
    built-in table stays where the player said nothing."""
    import numpy as np

    from liveai.harmony.evidence import _KeyTables
    from liveai.music.theory import Key
    key = Key(0)
    plain = _KeyTables(key, 1.0)
    i_of = {d: i for i, d in enumerate(plain.degrees)}
    I, vi, V, IV = i_of[(0, "maj")], i_of[(9, "min")], i_of[(7, "maj")], i_of[(5, "maj")]
    assert plain.trans[I][vi] < max(plain.trans[I][V], plain.trans[I][IV])
    few = _KeyTables(key, 1.0, {"major": {"next": {"0,maj": {"9,min": 2}}}})
    many = _KeyTables(key, 1.0, {"major": {"next": {"0,maj": {"9,min": 200}}}})
    assert plain.trans[I][vi] < few.trans[I][vi] < many.trans[I][vi]
    assert int(np.argmax(many.trans[I])) == vi and many.trans[I][vi] > 0.9
    assert np.allclose(many.trans[V], plain.trans[V])  # nothing learnt after V
    assert np.allclose(_KeyTables(Key(9, True), 1.0, {"major": {"next": {"0,maj": {"9,min": 200}}}}).trans[0],
                       _KeyTables(Key(9, True), 1.0).trans[0])  # a minor key reads the minor table
    off = _KeyTables(key, 1.0, {"major": {"next": {"0,maj": {"9,min": 200}}}}, learnt_weight=0.0)
    assert np.allclose(off.trans[I], plain.trans[I])
    for t in (few, many):
        assert all(abs(r.sum() - 1.0) < 1e-9 for r in t.trans.values())
