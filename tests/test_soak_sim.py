"""Soak on the simulated clock (issue 8 part 4): ten simulated minutes of the engine playing along
with the looped built-in tune, through latency_bench.soak.sim_soak (the same code as the one
simulated hour of `python -m latency_bench.soak`). No hanging notes, no drift, no memory growth."""
from latency_bench.soak import sim_soak


def test_ten_simulated_minutes_no_hanging_notes_no_drift_no_growth():
    # RSS, not tracemalloc: tracemalloc makes the run 5x slower (20 s); the bench itself uses both
    r = sim_soak(600.0, generator="rules", mark_s=120.0, trace=False)
    assert r["sim_generator"] == "rules"
    assert r["sim_errors"] == 0
    assert r["sim_notes"] > 1000  # the band played all along
    assert r["sim_steps"] >= 600 * 8 * 0.95  # a step every 16th at 120 BPM, the whole time
    assert r["sim_hanging_notes"] == 0
    assert r["sim_max_grid_dev_us"] < 1.0  # every engine note on the grid anchored at the first
    assert r["sim_rss_growth_mb"] < 5.0
