"""Voicing inside the planned chord: complete, bass on the root at changes, no parallels, no
collapse onto one pitch class (what the first model's decoding did)."""
import numpy as np

from liveai.neural import runtime as rt
from liveai.music.theory import ChordSymbol
from liveai.harmony.voicing import VoicingWeights, choose_voicing, revoice, voice_options

C, F, G = ChordSymbol(0, "maj"), ChordSymbol(5, "maj"), ChordSymbol(7, "maj")


def options(chord, sounding, new, logps=None):
    out = {}
    for v in ("bass", "tenor", "alto"):
        lo, hi = rt.RANGES[v]
        lp = None if logps is None else logps[v]
        out[v] = voice_options(v, chord, sounding.get(v), lp, lo, hi, new, 9, rt.pitch_token, rt.HOLD, rt.REST)
    return out


def pcs(choice):
    return {o.pitch % 12 for o in choice.values() if o.pitch is not None}


def test_a_new_chord_is_voiced_complete_with_its_root_in_the_bass():
    for chord in (C, F, G, ChordSymbol(9, "min"), ChordSymbol(11, "dim")):
        sounding = {"bass": 48, "tenor": 55, "alto": 64}
        choice = choose_voicing(chord, options(chord, sounding, True), sounding, True, None, True)
        assert pcs(choice) == set(chord.triad), chord
        assert choice["bass"].pitch % 12 == chord.root
        b, t, a = (choice[v].pitch for v in ("bass", "tenor", "alto"))
        assert b < t < a  # no crossed voices


def test_heads_that_want_every_voice_on_the_melodys_note_cannot_collapse_the_chord():
    """The heads all push towards G (the melody's pitch class), as the first model's decoding did:
    the chord stays complete, and at most one voice takes the melody's pitch class."""
    logps = {}
    for v in ("bass", "tenor", "alto"):
        lp = np.full(rt.VOCAB, -8.0)
        for p in range(rt.PITCH_LO, rt.PITCH_HI + 1):
            if p % 12 == 7:
                lp[rt.pitch_token(p)] = -0.1
        logps[v] = lp
    sounding = {"bass": 43, "tenor": 55, "alto": 67}  # G, G, G: a collapsed start
    choice = choose_voicing(C, options(C, sounding, True, logps), sounding, True, 7, True)
    assert pcs(choice) == {0, 4, 7}
    onsets_on_melody = sum(o.kind == "note" and o.pitch % 12 == 7 for o in choice.values())
    assert onsets_on_melody <= 1


def test_parallel_fifths_are_avoided_when_there_is_another_way():
    # bass C3 and alto G4 a fifth apart; moving to G major, bass G2/D... would give parallel fifths
    sounding = {"bass": 48, "tenor": 64, "alto": 67}
    w = VoicingWeights()
    choice = choose_voicing(G, options(G, sounding, True), sounding, True, None, True, w)
    b, a = choice["bass"].pitch, choice["alto"].pitch
    parallel = (a - b) % 12 == 7 and (b - 48) * (a - 67) > 0
    assert not parallel


def test_holding_keeps_common_tones_across_a_change():
    sounding = {"bass": 48, "tenor": 55, "alto": 64}  # C G E
    choice = choose_voicing(ChordSymbol(9, "min"), options(ChordSymbol(9, "min"), sounding, True),
                            sounding, True, None, True)
    assert choice["alto"].kind == "hold"  # E is in A minor: it stays


def test_revoice_moves_only_what_clashes_and_the_bass_to_the_root():
    moves = revoice({"bass": 48, "tenor": 55, "alto": 64, "drums.kick": 36}, F)
    assert moves["bass"] % 12 == 5
    assert "alto" not in moves or moves["alto"] % 12 in F.pcs
    assert "tenor" in moves and moves["tenor"] % 12 in F.pcs
    assert "drums.kick" not in moves
    assert revoice({"bass": 53, "tenor": 57, "alto": 60}, F) == {}


def test_no_voice_moves_in_parallel_octaves_with_the_tune_when_its_note_is_known():
    # bass D3 under the tune's D5; the tune steps to E5 and the chord becomes E minor: the bass's
    # root E3 would make octaves with the tune, so it takes another chord tone instead
    Em = ChordSymbol(4, "min")
    sounding = {"bass": 50, "tenor": 57, "alto": 66}
    free = choose_voicing(Em, options(Em, sounding, True), sounding, True, None, True)
    assert free["bass"].pitch % 12 == 4  # without the tune's move: the root
    heard = choose_voicing(Em, options(Em, sounding, True), sounding, True, None, True, soprano=(74, 76),
                           melody_top=76)
    for v, o in heard.items():
        if o.kind == "note":
            assert (76 - o.pitch) % 12 != (74 - sounding[v]) % 12 or (74 - sounding[v]) % 12 not in (0, 7), v
    assert {o.pitch % 12 for o in heard.values()} >= {4, 7}  # still E minor, its root and third


def test_a_voicing_keeps_the_root_rather_than_doubling_the_third():
    # two tones of G minor (Bb, D) also name Bb major: a voicing without G is avoided
    # (heads that would rather every voice held: the root is worth a move, a missing fifth is not)
    Gm = ChordSymbol(7, "min")
    sounding = {"bass": 50, "tenor": 58, "alto": 62}
    hold = {}
    for v in sounding:
        hold[v] = np.full(rt.VOCAB, -8.0)
        hold[v][rt.HOLD] = 0.0
    assert 7 in pcs(choose_voicing(Gm, options(Gm, sounding, False, hold), sounding, False, None, True))
    # the root term alone does it (with heads trusted fully and coverage low, as the first weights were)
    w = VoicingWeights(heads=1.0, coverage=1.6)
    choice = choose_voicing(Gm, options(Gm, sounding, False, hold), sounding, False, None, True, w)
    assert 7 in pcs(choice)
    rootless = choose_voicing(Gm, options(Gm, sounding, False, hold), sounding, False, None, True,
                              VoicingWeights(heads=1.0, coverage=1.6, root=0.0))
    assert pcs(rootless) == {10, 2}  # what the term prevents


def test_repair_voices_an_unsent_step_from_what_sounded_before_it():
    from liveai.harmony.voicing import parallels_with, repair
    ranges = {v: rt.RANGES[v] for v in ("bass", "tenor", "alto")}
    before = {"bass": 50, "tenor": 57, "alto": 66}  # D major
    planned = {"bass": 52, "tenor": 55, "alto": 64}  # E minor: the bass steps up with the tune
    assert parallels_with((74, 76), before, planned)
    assert not parallels_with((74, 74), before, planned)  # the tune holds: nothing parallel
    moves = repair(before, planned, ChordSymbol(4, "min"), ranges, True, (4,), (74, 76))
    after = {**planned, **moves}
    assert moves and not parallels_with((74, 76), before, after)
    assert all(p % 12 in (4, 7, 11) for p in after.values())
    assert repair({"bass": None, "tenor": 57, "alto": 66}, planned, ChordSymbol(4, "min"), ranges, True) == {}
