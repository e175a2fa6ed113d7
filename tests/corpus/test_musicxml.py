"""Lead-sheet reader: melody, chord symbols where they are written, pickup bars, key."""
from __future__ import annotations

import pytest

from liveai.harmony.chordvocab import QUALITIES
from liveai.corpus.musicxml import cmd_split, parse_musicxml


def _note(step: str, octave: int, dur: int, alter: int = 0) -> str:
    alt = f"<alter>{alter}</alter>" if alter else ""
    return (f"<note><pitch><step>{step}</step>{alt}<octave>{octave}</octave></pitch>"
            f"<duration>{dur}</duration></note>")


def _harmony(step: str, kind: str, alter: int = 0, bass: str | None = None) -> str:
    alt = f"<root-alter>{alter}</root-alter>" if alter else ""
    b = f"<bass><bass-step>{bass}</bass-step></bass>" if bass else ""
    return f"<harmony><root><root-step>{step}</root-step>{alt}</root><kind>{kind}</kind>{b}</harmony>"


def _sheet(time: str = "<beats>4</beats><beat-type>4</beat-type>") -> str:
    attrs = (f"<attributes><divisions>1</divisions><key><fifths>-1</fifths><mode>major</mode></key>"
             f"<time>{time}</time></attributes>")
    pickup = f"<measure number='0'>{attrs}{_note('C', 5, 1)}</measure>"
    m1 = (f"<measure number='1'>{_harmony('F', 'major')}{_note('A', 4, 2)}{_note('F', 4, 1)}"
          f"{_harmony('B', 'dominant', alter=-1, bass='D')}{_note('D', 5, 1)}</measure>")
    m2 = (f"<measure number='2'>{_harmony('G', 'minor-seventh')}{_note('B', 4, 4, alter=-1)}</measure>")
    return f"<score-partwise><part id='P1'>{pickup}{m1}{m2}</part></score-partwise>"


def test_lead_sheet_on_the_grid() -> None:
    s = parse_musicxml(_sheet(), "cmd/test")
    assert len(s.mel) == 3 * 16, "pickup bar + two bars"
    assert s.mel[12] == 72 and s.onset[12] == 1 and s.mel[0] == 0, "the pickup sits at the end of its bar"
    assert s.mel[16] == 69 and s.mel[24] == 65 and s.mel[28] == 74 and s.mel[32] == 70
    assert s.root[16] == 5 and QUALITIES[s.quality[16]] == "maj"
    assert s.root[28] == 10 and QUALITIES[s.quality[28]] == "7" and s.bass[28] == 2
    assert s.root[32] == 7 and QUALITIES[s.quality[32]] == "m7"
    assert s.root[0] == -1, "no chord before the first symbol"
    assert (s.key_tonic, s.key_minor) == (5, 0)


def test_other_metres_refused() -> None:
    with pytest.raises(ValueError, match="3/4"):
        parse_musicxml(_sheet("<beats>3</beats><beat-type>4</beat-type>"))


def test_split_is_stable() -> None:
    names = [f"song{i}" for i in range(200)]
    assert [cmd_split(n) for n in names] == [cmd_split(n) for n in names]
    assert 20 < sum(cmd_split(n) == "val" for n in names) < 60
