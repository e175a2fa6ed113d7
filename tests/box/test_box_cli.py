"""`liveai run --box`: auto ports with hot-plug, the saved config, never a dead box."""
import logging

import pytest

import liveai.app.run
from liveai.box.aarch64_check import _wheels, pin_installed, platform_ok, runtime_requirements
from liveai.cli import main


@pytest.fixture
def captured(monkeypatch):
    got = {}

    def fake_run(cfg, midi_in, midi_out, **kw):
        got.update(cfg=cfg, midi_in=midi_in, midi_out=midi_out, **kw)
    monkeypatch.setattr(liveai.app.run, "run_realtime", fake_run)
    return got


def test_box_defaults_to_auto_ports_with_hotplug(captured, tmp_path):
    p = tmp_path / "liveai.toml"
    p.write_text('tempo = 90.0\nauto_in = "Keystation"\n')
    assert main(["run", "--box", "--config", str(p)]) == 0
    cfg, i, o = captured["cfg"], captured["midi_in"], captured["midi_out"]
    assert captured["box"] and cfg.tempo == 90.0 and cfg.source == str(p)
    assert (i.name, i.hotplug, i.virtual) == ("auto", True, False) and (o.name, o.hotplug) == ("auto", True)


def test_box_with_a_broken_config_runs_on_defaults(captured, tmp_path, caplog):
    p = tmp_path / "liveai.toml"
    p.write_text("tempo = [oops\n")
    with caplog.at_level(logging.ERROR):
        assert main(["run", "--box", "--config", str(p), "--tempo", "100"]) == 0
    assert captured["cfg"].tempo == 100.0 and captured["cfg"].source == str(p)
    assert any("not valid TOML" in r.getMessage() and "default settings" in r.getMessage() for r in caplog.records)


def test_without_box_a_broken_config_is_still_an_error(captured, tmp_path):
    p = tmp_path / "liveai.toml"
    p.write_text("tempo = [oops\n")
    assert main(["run", "--config", str(p)]) == 2 and not captured


def test_midi_in_auto_alone_means_hotplug_and_names_stay_plain(captured):
    assert main(["run", "--midi-in", "auto", "--midi-out", "Synth"]) == 0
    assert captured["midi_in"].hotplug and not captured["midi_out"].hotplug and not captured["box"]
    assert main(["run", "--box", "--virtual"]) == 0
    assert captured["midi_in"].virtual and not captured["midi_in"].hotplug


def test_aarch64_check_helpers():
    assert {r.split(">")[0].split("=")[0] for r in runtime_requirements()} >= {"python-rtmidi", "onnxruntime", "numpy"}
    assert pin_installed("numpy>=1.24").startswith("numpy==")
    assert platform_ok("numpy-2.4.6-cp311-cp311-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl")
    assert platform_ok("mido-1.3.3-py3-none-any.whl")
    assert not platform_ok("numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl")
    out = "Saved /tmp/x/mido-1.3.3-py3-none-any.whl\nFile was already downloaded /tmp/x/packaging-26.3-py3-none-any.whl\n"
    assert _wheels(out) == ["mido-1.3.3-py3-none-any.whl", "packaging-26.3-py3-none-any.whl"]
