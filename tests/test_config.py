import pytest

from liveai.config import ConfigError, make_config


def test_defaults_toml_and_flags(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('tempo = 90\nmeter = "3/4"\n[channels]\nbass = 9\n')
    cfg = make_config(p, {"tempo": 100.0, "meter": None})
    assert cfg.tempo == 100.0 and cfg.meter == "3/4" and cfg.channels["bass"] == 9 and cfg.channels["alto"] == 4


@pytest.mark.parametrize("text,match", [
    ("tempo = 1000", "tempo"), ('mode = "polka"', "known modes"), ("bogus = 1", "unknown keys"),
    ("tempo = ", "not valid TOML"), ("[channels]\nbass = 17", "channel"),
])
def test_bad_config_gives_clear_errors(tmp_path, text, match):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        make_config(p)
