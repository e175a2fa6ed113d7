"""Chorales as cases: Bach's harmony from his four voices, the pickup cut, Bach's parts as a
reference (on a hand-made four-part piece; the real corpus needs the train extra)."""
import numpy as np
import pytest

from liveai.evaluation.chorales import chorale_case, first_downbeat
from liveai.evaluation.harmony import score
from liveai.music.theory import ChordSymbol


class FakePiece:
    def __init__(self, name, spb, voices):
        T = max(e for v in voices for _, _, e in v)
        self.name, self.steps_per_bar = name, spb
        self.roll = np.zeros((4, T), np.int16)
        self.onset = np.zeros((4, T), bool)
        for i, v in enumerate(voices):
            for p, s, e in v:
                self.roll[i, s:e] = p
                self.onset[i, s] = True

    @property
    def length(self):
        return self.roll.shape[1]


def _piece():
    # 4/4, a one-beat pickup (steps 12-15 of bar 0), then I - IV - V - I in G, a half note each
    sop = [(67, 12, 16), (71, 16, 24), (72, 24, 32), (74, 32, 40), (71, 40, 48)]
    alt = [(62, 12, 16), (67, 16, 24), (67, 24, 32), (66, 32, 40), (67, 40, 48)]
    ten = [(59, 12, 16), (62, 16, 24), (64, 24, 32), (57, 32, 40), (62, 40, 48)]
    bas = [(43, 12, 16), (43, 16, 24), (48, 24, 32), (50, 32, 40), (43, 40, 48)]
    return FakePiece("bach/bwvtest", 16, [sop, alt, ten, bas])


def test_chorale_case_cuts_the_pickup_and_takes_bachs_harmony():
    p = _piece()
    assert first_downbeat(p) == 16
    c = chorale_case(p)
    assert c.total == 32 and c.beats == 4 and c.four_part
    assert c.player[0].start == 0 and c.player[0].pitch == 71
    G, Cm, D = ChordSymbol(7), ChordSymbol(0), ChordSymbol(2)
    assert c.chords == [G] * 8 + [Cm] * 8 + [D] * 8 + [G] * 8
    assert [m[1] for m in c.markers] == [G, Cm, D, G]
    assert c.tonic == 7 and not c.minor
    bach = c.extra_refs["bach"]
    assert {n.part for n in bach} == {"alto", "tenor", "bass"}
    # Bach's own parts against his own harmony (bar 2 scored: D with F# A D below, then G with
    # G D G below, the third in the soprano): recall (1 + 2/3) / 2, root in the bass at both changes
    s = score(c.player, bach, c.chords, 16, four_part=True)
    assert s["implied_ensemble"] == 1.0 and s["recall"] == pytest.approx(5 / 6) and s["bass_root"] == 1.0
    assert s["crossings"] == 0.0 and "parallels" in s


@pytest.mark.skipif("not __import__('importlib').util.find_spec('music21')")
def test_held_out_chorales_come_from_the_test_split(monkeypatch):
    from liveai.evaluation import chorales
    from liveai.corpus import pieces as D
    pieces = [_piece() for _ in range(30)]
    for i, p in enumerate(pieces):
        p.name = f"bach/bwv{i:03d}"
    monkeypatch.setattr(D, "load_chorales", lambda *a, **k: pieces)
    _, _, test = D.split_pieces(pieces, seed=1234)
    got = chorales.held_out_chorales(2)
    assert [p.name for p in got] == sorted(p.name for p in test)[:2]
