from liveai.generators.base import PlayerNote
from liveai.music.theory import ChordSymbol, Key, chord_from_pitches, close_voicing, detect_key, diatonic_chords, choose_chord
from liveai.music.tunes import ODE_TO_JOY, AMAZING_GRACE_G


def scale_notes(tonic, minor=False):
    degrees = (0, 2, 3, 5, 7, 8, 11, 12) if minor else (0, 2, 4, 5, 7, 9, 11, 12)
    out = [PlayerNote(60 + tonic + d, 80, 4 * i, 4 * i + 4) for i, d in enumerate(degrees)]
    out.append(PlayerNote(60 + tonic, 80, 32, 40))
    return out


def test_key_of_scales():
    for tonic in range(12):
        assert detect_key(scale_notes(tonic), 40) == Key(tonic)
    assert detect_key(scale_notes(9, minor=True), 40) == Key(9, True)


def test_key_of_tunes_and_hysteresis():
    assert detect_key(ODE_TO_JOY.notes(), 256) == Key(2)
    assert detect_key(AMAZING_GRACE_G.notes(), 180) == Key(7)
    # one chromatic passing note does not flip an established key
    notes = scale_notes(0) + [PlayerNote(66, 80, 40, 41)]
    assert detect_key(notes, 41, previous=Key(0)) == Key(0)


def test_the_fast_key_is_the_best_of_all_24_correlations():
    """detect_key (the reactive path's: no sort, a plain-loop histogram) picks what ranking every
    key by key_scores over the numpy histogram picks, hysteresis included, on random melodies."""
    import random

    import numpy as np

    from liveai.music.theory import key_scores, pitch_class_histogram

    def reference(notes, now, previous, margin=0.1):
        starts = np.array([n.start_step for n in notes], float)
        ends = np.array([now + 1 if n.end_step is None else n.end_step for n in notes], float)
        dur = np.maximum(1.0, np.minimum(ends, now + 1) - starts)
        w = dur * 0.5 ** (np.maximum(0.0, now - starts) / 64.0)
        hist = np.bincount([n.pitch % 12 for n in notes], weights=w, minlength=12) if notes else np.zeros(12)
        assert np.allclose(hist, pitch_class_histogram(notes, now))
        scores = key_scores(hist)
        if not scores:
            return previous
        best_r, best = scores[0]
        if previous is not None and best != previous and best_r - dict((k, r) for r, k in scores)[previous] < margin:
            return previous
        return best

    rng = random.Random(3)
    for _ in range(300):
        scale = rng.choice([(0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 11), tuple(range(12)), (0, 4, 7)])
        tonic, n = rng.randrange(12), rng.randrange(0, 60)
        notes = [PlayerNote(60 + tonic + rng.choice(scale), 80, 2 * i,
                            None if i == n - 1 else 2 * i + rng.randint(1, 4)) for i in range(n)]
        previous = rng.choice([None, Key(rng.randrange(12), rng.random() < 0.5)])
        assert detect_key(notes, 2 * n, previous) == reference(notes, 2 * n, previous)


def test_chords():
    assert chord_from_pitches([60, 64, 67]) == ChordSymbol(0, "maj")
    assert chord_from_pitches([57, 60, 64]) == ChordSymbol(9, "min")
    assert chord_from_pitches([60]) is None
    assert [str(c) for c, _ in diatonic_chords(Key(7))][:5] == ["G", "Am", "Bm", "C", "D"]
    assert choose_chord(Key(0), [(7, 2.0), (11, 1.0), (2, 1.0)]) == ChordSymbol(7, "maj")



def test_close_voicing_stacks_each_tone_on_the_nearest_pitch_above():
    assert close_voicing(48, ChordSymbol(0, "maj").pcs) == [48, 52, 55]  # C3 E3 G3
    assert close_voicing(52, (4, 7, 0)) == [52, 55, 60]  # first inversion
    assert close_voicing(55, ChordSymbol(7, "7").pcs) == [55, 59, 62, 65]  # G7
    assert close_voicing(50, (2,)) == [50]
    # a repeated pitch class goes up an octave, never sounds twice on one key
    assert close_voicing(60, (0, 0)) == [60, 72]
    for root in range(12):  # root position within an octave, the root at the bottom
        v = close_voicing(48 + root, ChordSymbol(root, "min").pcs)
        assert v == sorted(v) and v[-1] - v[0] < 12 and [p % 12 for p in v] == list(ChordSymbol(root, "min").pcs)

def test_key_detection_accuracy_on_held_out_chorales():
    """Ground truth: the key signature, major or minor by the final bass note. The player is the
    soprano line alone, heard online: accuracy after the whole line and from bar 3 on."""
    pytest = __import__("pytest")
    pytest.importorskip("music21")
    from music21 import corpus
    paths = corpus.getComposer("bach")[::10][:30]
    total = right_end = right_online = online_n = 0
    for path in paths:
        s = corpus.parse(path)
        if len(s.parts) != 4:
            continue
        ks = next(iter(s.flatten().getElementsByClass("KeySignature")), None)
        bass = [n for n in s.parts[-1].flatten().notes if n.isNote]
        if ks is None or not bass:
            continue
        major_tonic = (ks.sharps * 7) % 12
        final = bass[-1].pitch.midi % 12
        if final == major_tonic:
            truth = Key(major_tonic, False)
        elif final == (major_tonic + 9) % 12:
            truth = Key(final, True)
        else:
            continue  # modal endings: no clean truth
        notes, step = [], 0
        for n in s.parts[0].flatten().notesAndRests:
            d = max(1, int(round(n.quarterLength * 4)))
            if n.isNote:
                notes.append(PlayerNote(n.pitch.midi, 80, step, step + d))
            step += d
        total += 1
        right_end += detect_key(notes, step) == truth
        key = None
        for bar_end in range(32, step, 16):
            key = detect_key([x for x in notes if x.start_step < bar_end], bar_end, key)
            online_n += 1
            right_online += key == truth
    assert total >= 15
    print(f"key detection on {total} held-out chorales (soprano only): final {right_end / total:.2f}, "
          f"online from bar 3 {right_online / online_n:.2f}")
    assert right_end / total >= 0.7
