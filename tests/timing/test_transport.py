import pytest

from liveai.timing.transport import Transport

from liveai.music.meter import STEP_TICKS, TICKS_PER_BEAT, Meter


def test_meter_parse_and_steps():
    assert Meter.parse("3/4").steps_per_bar == 12
    assert Meter.parse("4/4").steps_per_bar == 16
    assert Meter.parse("6/8").steps_per_bar == 12
    with pytest.raises(ValueError, match="meter"):
        Meter.parse("four")


def test_ticks_allow_triplets_and_swing():
    assert TICKS_PER_BEAT % 3 == 0 and TICKS_PER_BEAT % 4 == 0 and STEP_TICKS * 4 == TICKS_PER_BEAT


def test_grid_is_anchored_at_start_and_tempo_change_keeps_the_past():
    t = Transport(120)
    t.start(10.0)
    assert t.time_of_step(0) == 10.0
    assert t.time_of_step(4) == pytest.approx(10.5)
    assert t.step_at(10.13) == 1
    t.set_tempo(60, from_step=8)
    assert t.time_of_step(8) == pytest.approx(11.0)
    assert t.time_of_step(12) == pytest.approx(12.0)


@pytest.mark.parametrize("bad", [0, 10, 1000, float("nan")])
def test_tempo_out_of_range_is_rejected(bad):
    with pytest.raises(ValueError, match="tempo"):
        Transport(bad)
