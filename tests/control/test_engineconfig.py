"""The session's settings: a chord model's card says how much to trust it; the config wins."""
from types import SimpleNamespace

from liveai.control.config import make_config
from liveai.control.engineconfig import settings_from
from liveai.harmony.planner import PlannerSettings


def model_with(card: dict):
    return SimpleNamespace(spec=SimpleNamespace(card=card))


def test_the_card_sets_trust_and_melody_weight_and_the_config_overrides_the_trust():
    h = settings_from(make_config(), None).harmony
    assert (h.model_weight, h.evidence) == (1.0, PlannerSettings.evidence)  # no model, the built-in defaults
    h = settings_from(make_config(), model_with({})).harmony
    assert (h.model_weight, h.evidence) == (1.0, PlannerSettings.evidence)  # the shipped card says nothing
    h = settings_from(make_config(), model_with({"model_weight": 4.0, "evidence": 1.5})).harmony
    assert (h.model_weight, h.evidence) == (4.0, 1.5)
    h = settings_from(make_config(overrides={"chord_model_weight": 0.5}), model_with({"model_weight": 4.0})).harmony
    assert h.model_weight == 0.5


def test_a_trust_out_of_range_is_a_clear_error():
    import pytest

    from liveai.control.config import ConfigError
    with pytest.raises(ConfigError, match="chord_model_weight must be between 0 and 20"):
        make_config(overrides={"chord_model_weight": -1.0})
