import pytest

from liveai.control.config import ConfigError, make_config


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


# issue 12, item 9
def test_osc_out_may_be_one_string_or_a_list(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('osc_out = "127.0.0.1:9001"\n')
    assert make_config(p).osc_out == ["127.0.0.1:9001"]
    p.write_text('osc_out = ["127.0.0.1:9001", "10.0.0.2:7000"]\n')
    assert make_config(p).osc_out == ["127.0.0.1:9001", "10.0.0.2:7000"]
    p.write_text('osc_out = "nonsense"\n')
    with pytest.raises(ConfigError, match="osc_out"):
        make_config(p)


def test_a_value_of_the_wrong_type_names_its_key_and_file(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('tempo = "fast"\n')
    with pytest.raises(ConfigError) as e:
        make_config(p)
    assert "tempo" in str(e.value) and str(p) in str(e.value) and "fast" in str(e.value)


@pytest.mark.parametrize("over, match", [({"idle_bars": -1.0}, "idle_bars"),
                                         ({"channels": {"kazoo": 10}}, "kazoo")])
def test_negative_idle_bars_and_unknown_parts_are_refused(over, match):
    with pytest.raises(ConfigError, match=match):
        make_config(None, over)


def test_band_parts_are_known_parts():
    # issue 14 made the band's parts real parts: their channels are set like any other's
    cfg = make_config(None, {"channels": {"drums": 10, "comp": 11}})
    assert cfg.channels["drums"] == 10 and cfg.channels["comp"] == 11


# issue 12, item 7: the mix is a setting like any other
def test_part_mix_keys_load_and_are_checked(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[mute]\nbass = true\n[volume]\nalto = 0.5\n[octave]\nmelody = -1\n")
    cfg = make_config(p)
    assert (cfg.mute, cfg.volume, cfg.octave) == ({"bass": True}, {"alto": 0.5}, {"melody": -1})
    for text in ("[volume]\nbass = 2.0\n", "[octave]\nbass = 9\n", "[mute]\nkazoo = true\n"):
        p.write_text(text)
        with pytest.raises(ConfigError):
            make_config(p)
