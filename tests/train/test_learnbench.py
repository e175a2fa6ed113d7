"""Bach as the player, small: learnt chorales make the band play Bach's harmony more often."""
from __future__ import annotations

import pytest


@pytest.mark.skipif("not __import__('importlib').util.find_spec('music21') or "
                    "not __import__('importlib').util.find_spec('onnx')")
def test_learning_chorales_moves_the_band_towards_bachs_harmony():
    """40 chorales learnt (400 updates), 8 held out played through the demo. The full run
    (python -m liveai.train.learnbench: 200 and 30) is in the README."""
    from liveai.train.learnbench import run
    r = run(train_n=40, test_n=8, updates=400, jobs=2)
    b = r["band"]
    assert r["train"] == 40 and r["test"] == 8
    assert b["personal"]["implied_alone"] > b["shipped"]["implied_alone"], b
    assert b["personal"]["note_in_chord"] > b["shipped"]["note_in_chord"], b
    # not bought with worse music: still full chords, still few parallels, above the drone
    assert b["personal"]["distinct"] >= 2.3 and b["personal"]["parallels"] <= 3.5, b
    assert b["personal"]["implied_alone"] > b["drone"]["implied_alone"] + 0.05, b
    assert r["planner"]["personal, with memory"] > r["planner"]["shipped, with memory"], r["planner"]
