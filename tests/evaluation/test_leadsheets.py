"""Songs of music21's corpus as cases: chord symbols per step, the pickup cut, repeats written out
(on a hand-made lead sheet, then on the corpus itself: both need the train extra's music21)."""
import pytest

music21 = pytest.importorskip("music21")

from liveai.evaluation.leadsheets import leadsheet_cases, score_case  # noqa: E402
from liveai.music.theory import ChordSymbol  # noqa: E402

ABC = """X:1
T:Test Tune
M:4/4
L:1/4
K:G
D|"G"G A B c|"D"d2 "D7"c A|"Em"B G "C"E C|"G"G4|]
"""


def test_a_lead_sheet_becomes_a_case_with_its_pickup_cut():
    score = music21.converter.parse(ABC, format="abc")
    c = score_case(score, "song-test", "Test Tune")
    assert c.beats == 4 and c.steps_per_bar == 16
    assert c.player[0].start == 0 and c.player[0].pitch == 67  # the pickup D is cut: G on step 0
    assert c.total == 64  # four bars
    g, d, em, cc = ChordSymbol(7, "maj"), ChordSymbol(2, "maj"), ChordSymbol(4, "min"), ChordSymbol(0, "maj")
    assert c.chords[0] == g and c.chords[15] == g
    assert c.chords[16] == d and c.chords[24] == d  # D7 scores as its triad
    assert c.chords[32] == em and c.chords[40] == cc and c.chords[48] == g
    assert [k for k, _ in c.markers] == [0, 16, 32, 40, 48]
    assert (c.tonic, c.minor) == (7, False)


PICKUPS = """X:1
T:Pickups
M:4/4
L:1/4
K:G
D|"G"G A B c|"D"d A F D|"G"G3:|
B|"C"c d e f|"G"g4|]
"""


def test_short_bars_inside_a_tune_end_on_a_bar_line():
    # played: | G A B c | d A F D | G3 + pickup D | G A B c | d A F D | G3 + pickup B | c d e f | g4 |
    c = score_case(music21.converter.parse(PICKUPS, format="abc"), "song-pickups", "Pickups")
    spb = c.steps_per_bar
    onsets = {n.start: n.pitch for n in c.player}
    assert c.total == 8 * spb
    for bar, pitch in enumerate((67, 74, 67, 67, 74, 67, 72, 79)):  # every bar's first note on its bar line
        assert onsets.get(bar * spb) == pitch, (bar, onsets.get(bar * spb))
    assert onsets.get(2 * spb + 12) == 62 and onsets.get(5 * spb + 12) == 71  # the pickups end their bars
    assert [k % spb for k, _ in c.markers] == [0] * len(c.markers)


def test_the_corpus_songs_load():
    cases = leadsheet_cases()
    assert len(cases) == 4
    for c in cases:
        assert c.total % c.steps_per_bar == 0 and c.total >= 32 * c.steps_per_bar // 2
        assert c.player[0].start == 0
        scored = sum(ch is not None for ch in c.chords)
        assert scored > 0.9 * c.total, c.key
