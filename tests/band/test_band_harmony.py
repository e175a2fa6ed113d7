"""Issue 14's harmony check: every built-in band style, on a 4/4 and a 3/4 tune (melody only),
keeps the harmony metrics of issue 13 on its pitched parts within 0.05 of the chorale style's,
measured the same way (`liveai demo --fast --seed 1` through liveai.evaluation), chorale's figures
computed here on the same tunes. A style may do better than chorale; it may not do worse by more
than 0.05."""
from __future__ import annotations

import pytest

from liveai.band.style import builtin_names
from liveai.evaluation.runner import evaluate_cases, means, tune_case
from liveai.evaluation.annotated import TUNES

TUNE_KEYS = ("pop-g", "waltz-c")  # a 4/4 pop I-V-vi-IV and a 3/4 waltz
BANDS = [b for b in builtin_names() if b != "chorale"]
CHECKED = ("precision", "recall", "f1", "implied_ensemble", "implied_alone", "distinct")
TOLERANCE = 0.05


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    cases = [tune_case(TUNES[k], "melody") for k in TUNE_KEYS]
    assert {c.steps_per_bar for c in cases} == {16, 12}  # one 4/4 and one 3/4 tune
    gens = ["model", *(f"model --band {b}" for b in BANDS)]
    res = evaluate_cases(cases, gens, seed=1, workdir=tmp_path_factory.mktemp("band-eval"), jobs=2)
    return means(res, [c.key for c in cases])


def test_every_style_is_measured(figures):
    assert len(BANDS) >= 7 and all(f"model --band {b}" in figures for b in BANDS)


@pytest.mark.parametrize("band", BANDS)
def test_style_harmony_within_tolerance_of_chorale(figures, band):
    chorale, mine = figures["model"], figures[f"model --band {band}"]
    short = {m: (round(mine[m], 3), round(chorale[m], 3)) for m in CHECKED if mine[m] < chorale[m] - TOLERANCE}
    assert not short, f"{band}: (style, chorale) falls more than {TOLERANCE} short on {short}"


# measured (the model listening while a band plays): chorale 0.67 (pop-g) and 0.60 (waltz-c), whose
# bass leaves the root where the root would move in octaves with the tune; every style's bass, on the
# plan's root at each change, 0.58 and 0.70 (duo 0.80). Over all 11 tunes: chorale 0.62, styles 0.58-0.61
@pytest.mark.parametrize("band", BANDS)
def test_style_bass_on_the_root_within_tolerance_of_chorale(figures, band):
    chorale, mine = figures["model"]["bass_root"], figures[f"model --band {band}"]["bass_root"]
    assert mine >= chorale - TOLERANCE, f"{band}: bass on the root {mine:.3f} vs chorale {chorale:.3f}"
