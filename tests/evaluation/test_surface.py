"""liveai.evaluation.surface watches one real simulated run: the wire, the take, the chords shown."""
import pytest

from liveai.evaluation import surface
from liveai.evaluation.runner import all_tune_cases


def test_a_band_run_is_watched_and_the_take_is_the_wire(tmp_path):
    case = all_tune_cases(variants=("melody",))[0]
    r = surface.run(case.write_input(tmp_path / "in.mid"), "pop", "bar")
    m = surface.measure(r, "bar")
    assert m["notes"] > 100 and m["held_notes"] > 20
    assert m["take_missing"] == 0 and m["take_extra"] == 0  # every note sent is in the take, as long
    assert m["changes"] > 0 and m["off_rhythm"] == 0  # a set harmonic rhythm bounds every change
    assert len(r.chords) == len(r.nexts) > 16 * 8


@pytest.mark.xfail(strict=True, reason="issue 28, open: the band's first note is on beat 2 (step 4), not the first downbeat")
def test_the_band_comes_in_on_the_first_downbeat(tmp_path):
    case = all_tune_cases(variants=("melody",))[0]
    m = surface.measure(surface.run(case.write_input(tmp_path / "in.mid"), "pop"))
    assert m["first_band_step"] == 0


def test_wire_notes_pair_ons_and_offs_first_in_first_out():
    from liveai.io.output import OutEvent
    evs = [(0.0, OutEvent.note_on(0, 60, 80, "pad.1")), (0.0, OutEvent.note_on(0, 60, 70, "pad.2")),
           (1.0, OutEvent.note_off(0, 60, "pad.1")), (2.0, OutEvent.note_off(0, 60, "pad.2"))]
    notes = surface.wire_notes(evs)
    assert [(n.part, n.velocity, n.end - n.start) for n in notes] == [("pad", 80, 1.0), ("pad", 70, 2.0)]
