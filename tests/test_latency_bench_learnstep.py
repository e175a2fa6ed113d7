"""latency_bench.learnstep times fine-tuning updates and derives the whole run's cost from them."""
import json
import math

import pytest

pytest.importorskip("onnx")

from latency_bench.learnstep import main  # noqa: E402


def test_update_cost_is_measured_and_the_estimates_follow_from_it(capsys):
    assert main(["--updates", "40", "--songs", "2", "--json", "--pi-gflops", "4"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert math.isfinite(r["ms_per_update_p50"]) and 0 < r["ms_per_update_p50"] <= r["ms_per_update_p99"]
    assert 1.0 < r["gflop_per_update"] < 3.0  # batch 256 through a 1536-384-2057 network and back
    assert r["default_run_s_here"] == pytest.approx(2 * r["ms_per_update_p50"])
    assert r["pi_default_run_s_est"] == pytest.approx(2000 * r["gflop_per_update"] / 4)
