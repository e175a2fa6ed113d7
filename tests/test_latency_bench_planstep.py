"""latency_bench.planstep times the engine's own step planner on real songs, with and without the
chord model, in one run."""
import math

from latency_bench.planstep import main, measure


def test_plan_step_costs_are_measured_with_and_without_the_chord_model():
    r = measure(songs=1, bars=2)
    assert r["songs"] == 2  # one song of each real source
    for label in ("with_chord_model", "without_chord_model"):
        assert r[f"plan_step_{label}_n"] >= 2 * 32 - 8  # about two bars of 16ths a song, each planned once
        for part in ("plan_step", "planner", "accompanist"):
            p50, p99 = r[f"{part}_{label}_p50_us"], r[f"{part}_{label}_p99_us"]
            assert math.isfinite(p50) and 0 < p50 <= p99
        # the whole step contains its parts
        assert r[f"plan_step_{label}_p50_us"] >= r[f"planner_{label}_p50_us"]


def test_cli_prints_the_table_and_json(capsys):
    assert main(["--songs", "1", "--bars", "2"]) == 0
    out = capsys.readouterr().out
    assert "whole plan step" in out and '"plan_step_with_chord_model_p99_us"' in out
