"""Each metric of liveai.evaluation.harmony on tiny hand-made cases whose answers are worked out
by hand in the comments (one 4/4 bar is 16 steps; the first bar is skipped unless start=0)."""
import pytest

from liveai.evaluation.harmony import (Note, as_note, best_triads, bass_on_root, beat_profile, chord_changes,
                                       distinct, echo, f1, implied, implied_chords, mean_scores, parallels,
                                       precision, recall, score, sounding, voice_crossings)
from liveai.music.theory import ChordSymbol

C = ChordSymbol(0, "maj")
G7 = ChordSymbol(7, "7")
AM = ChordSymbol(9, "min")
BDIM = ChordSymbol(11, "dim")


def test_as_note_accepts_tuples_grid_and_player_notes():
    from liveai.evaluation.online import GridNote
    from liveai.generators.base import PlayerNote
    assert as_note((60, 0, 4, "bass")) == Note(60, 0, 4, "bass")
    assert as_note(GridNote(60, 80, 0, 4, "alto")) == Note(60, 0, 4, "alto")
    assert as_note(PlayerNote(60, 80, 2, None)) == Note(60, 2, 3, "player")


def test_precision_counts_distinct_pitch_classes_and_sevenths_as_chord_tones():
    chords = [G7] * 4
    # steps 0-1: G, B, F (all chord tones of G7) -> 1; steps 2-3: G and A -> 1/2
    acc = [Note(55, 0, 4, "bass"), Note(59, 0, 2, "tenor"), Note(65, 0, 2, "alto"), Note(69, 2, 4, "alto")]
    assert precision(acc, chords, 16, start=0) == pytest.approx((1 + 1 + 0.5 + 0.5) / 4)


def test_precision_ignores_silent_steps_and_doubling():
    chords = [C] * 4
    acc = [Note(48, 0, 2, "bass"), Note(60, 0, 2, "tenor"), Note(72, 0, 2, "alto")]  # C in three octaves
    assert precision(acc, chords, 16, start=0) == 1.0  # only steps 0 and 1 count
    assert recall(acc, chords, 16, start=0) == pytest.approx((1 / 3 + 1 / 3 + 0 + 0) / 4)


def test_recall_counts_the_triad_of_a_seventh_chord():
    chords = [G7] * 2
    acc = [Note(55, 0, 2), Note(59, 0, 2), Note(65, 0, 2)]  # G B F: root and third, the 7th is not in the triad
    assert recall(acc, chords, 16, start=0) == pytest.approx(2 / 3)


def test_first_bar_is_skipped_by_default():
    chords = [C] * 32
    acc = [Note(60, 0, 16)]  # sounds only in the first bar
    assert precision(acc, chords, 16) == 0.0  # no scored step sounds
    assert recall(acc, chords, 16) == 0.0
    assert recall(acc, chords, 16, start=0) == pytest.approx((16 / 3) / 32)


def test_f1_is_the_harmonic_mean():
    assert f1(0.87, 0.34) == pytest.approx(2 * 0.87 * 0.34 / 1.21)
    assert f1(0, 0) == 0.0


def test_distinct_over_sounding_steps_only():
    acc = [Note(48, 0, 2), Note(52, 0, 2), Note(60, 0, 4), Note(72, 2, 4)]
    # steps 0,1: C E C -> 2; steps 2,3: C C -> 1; steps 4..7 silent, not counted
    assert distinct(acc, 8, 16, start=0) == pytest.approx(1.5)


def test_echo_matches_sounding_or_just_begun_player_notes():
    player = [Note(64, 0, 1, "player"), Note(67, 4, 8, "player")]
    acc = [Note(52, 2, 6),   # E at step 2: the player's E began 2 steps before (ended, still counts)
           Note(55, 6, 8),   # G at 6: the player's G sounds -> echo
           Note(48, 4, 6),   # C at 4: no player C -> not an echo
           Note(40, 3, 4)]   # E at 3: the player's E began 3 steps before and ended -> not an echo
    assert echo(acc, player, 16, 16, start=0) == pytest.approx(2 / 4)


def test_echo_is_zero_with_no_onsets():
    assert echo([Note(48, 0, 32)], [Note(60, 20, 24)], 32, 16) == 0.0


def test_chord_changes_and_bass_on_root():
    chords = [C] * 24 + [G7] * 8 + [AM] * 16
    assert chord_changes(chords, 16) == [24, 32]
    assert chord_changes(chords, 16, start=0) == [0, 24, 32]
    acc = [Note(55, 24, 26, "bass"),   # G in the bass in G7's first beat -> hit
           Note(62, 24, 32, "alto"),
           Note(48, 33, 40, "bass"),   # C under A minor's first beat (lowest, from step 33) -> miss
           Note(57, 32, 48, "tenor")]
    assert bass_on_root(acc, chords, 16) == pytest.approx(1 / 2)


def test_bass_on_root_silent_first_beat_is_a_miss():
    chords = [C] * 16 + [G7] * 16
    assert bass_on_root([Note(43, 20, 32)], chords, 16) == 0.0  # G enters on beat 2 only


def test_best_triads_needs_two_tones_and_breaks_ties_by_root_then_bass():
    w = [0] * 12
    w[0] = 4  # C alone: no triad has two tones present
    assert best_triads(w, [0] * 12) == []
    snd = sounding([Note(48, 0, 4), Note(52, 0, 4), Note(55, 0, 4), Note(58, 0, 4)], 4)  # C E G Bb
    prof = beat_profile(snd, 0, 4)
    assert prof[0][0] == prof[0][4] == 4 and prof[1][0] == 4
    # C major and E diminished both have three tones present: the bass (C) decides
    assert best_triads(*prof) == [(0, "maj")]
    # C and G only: C major and C minor tie on everything
    snd = sounding([Note(48, 0, 4), Note(55, 0, 4)], 4)
    assert sorted(best_triads(*beat_profile(snd, 0, 4))) == [(0, "maj"), (0, "min")]


def test_implied_per_beat_with_tie_credit():
    chords = [C] * 4 + [AM] * 4 + [BDIM] * 4 + [G7] * 4
    notes = [Note(48, 0, 4), Note(52, 0, 4), Note(55, 0, 4),      # beat 1: C E G -> C
             Note(45, 4, 8), Note(52, 4, 8),                      # beat 2: A E -> A minor or A major: 1/2
             Note(59, 8, 12), Note(62, 8, 12), Note(65, 8, 12),   # beat 3: B D F -> B dim
             Note(48, 12, 16), Note(52, 12, 16)]                   # beat 4: C E under G7 -> C major, wrong
    assert implied(notes, chords, 16, start=0) == pytest.approx((1 + 0.5 + 1 + 0) / 4)


def test_implied_chords_duration_weighting():
    # a passing D for one 16th over a held C-E-G still implies C; F-A-C for three 16ths over C-E implies F
    notes = [Note(48, 0, 4), Note(52, 0, 4), Note(55, 0, 4), Note(62, 1, 2),
             Note(53, 4, 7), Note(57, 4, 7), Note(60, 4, 8), Note(64, 7, 8)]
    assert implied_chords(notes, 8) == [(0, "maj"), (5, "maj")]


def test_voice_crossings_counts_crossed_adjacent_pairs():
    parts = {"soprano": [Note(67, 0, 4)], "alto": [Note(69, 0, 2), Note(64, 2, 4)],
             "tenor": [Note(60, 0, 4)], "bass": [Note(62, 0, 1), Note(48, 1, 4)]}
    # alto above soprano on steps 0,1; bass above tenor on step 0 -> 3 crossings in 4 steps
    assert voice_crossings(parts, 4, 16, start=0) == pytest.approx(1000 * 3 / 4)


def test_parallels_fifths_and_octaves_per_1000_steps():
    soprano = [Note(72, 0, 4), Note(74, 4, 8)]
    acc = [Note(65, 0, 4, "alto"), Note(67, 4, 8, "alto"),     # soprano-alto: 5ths C/F -> D/G, parallel
           Note(60, 0, 4, "tenor"), Note(60, 4, 8, "tenor"),   # tenor holds: no motion
           Note(48, 0, 4, "bass"), Note(50, 4, 8, "bass")]     # soprano-bass: octaves C -> D; tenor-bass oblique
    # at step 4 soprano, alto and bass move: S-A fifths (7 -> 7), S-B octaves (0 -> 0); A-B is a
    # fourth above the octave (17 semitones), not a fifth; the tenor holds -> 2 in 8 steps
    assert parallels(acc, soprano, 8, 16, start=0) == pytest.approx(1000 * 2 / 8)


def test_score_and_mean_scores():
    chords = [C] * 32
    player = [Note(64, 0, 32, "melody")]
    acc = [Note(48, 16, 32, "bass"), Note(52, 16, 32, "tenor"), Note(55, 16, 32, "alto")]
    s = score(player, acc, chords, 16)
    assert s["precision"] == s["recall"] == s["f1"] == s["implied_alone"] == s["implied_ensemble"] == 1.0
    assert s["distinct"] == 3 and s["bass_root"] == 0.0  # no chord change after the first bar
    assert s["echo"] == pytest.approx(1 / 3)
    m = mean_scores([{"precision": 1.0, "recall": 0.0, "f1": 0.0}, {"precision": 0.5, "recall": 1.0, "f1": 2 / 3}])
    assert m["precision"] == 0.75 and m["recall"] == 0.5
    assert m["f1"] == pytest.approx(f1(0.75, 0.5))  # F1 of the means, not the mean of F1s
