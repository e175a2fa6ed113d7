"""latency_bench's verdicts (issue 25): targets judged against controls of the same run; a miss on a
noisy run is withheld, never failed; --strict needs every target measured and passed."""
from latency_bench.verdicts import (FAIL, NOT_RUN, PASS, WITHHELD, exit_status, noisy, verdicts)


def _run(**kw) -> dict:
    r = {"generator": "model", "os_timer_p99_us": 150.0, "rig_max_cycle_gap_ms": 2.0,
         "scheduler_jitter_p99_us": 400.0, "control_scheduler_jitter_p99_us": 380.0,
         "reactive_latency_p50_us": 900.0, "reactive_latency_p99_us": 1500.0,
         "harmonize_latency_p50_us": 1000.0, "harmonize_latency_p99_us": 1700.0,
         "model_step_p99_us": 300.0, "cpu_percent_playing": 8.0, "startup_s": 1.2,
         "peer_rt": {"median_ratio": 0.9, "runs": [{"cyclictest_p99_us": 100.0}] * 3},
         "peer_nort": {"median_ratio": 1.1, "runs": [{"cyclictest_p99_us": 120.0}] * 3}}
    r.update(kw)
    return r


def _by_target(vs):
    return {v.target.split(" <=")[0].split(",")[0]: v for v in vs}


def test_a_quiet_run_that_meets_every_target_passes_even_strict():
    vs = verdicts(_run())
    assert noisy(_run()) is None
    assert {v.outcome for v in vs} == {PASS}
    assert exit_status(vs, strict=False) == 0 and exit_status(vs, strict=True) == 0


def test_a_miss_fails_on_a_quiet_run_and_is_withheld_on_a_noisy_one():
    slow = dict(scheduler_jitter_p99_us=3000.0)
    vs = _by_target(verdicts(_run(**slow)))
    assert vs["sender lateness p99"].outcome == FAIL
    assert exit_status(list(vs.values()), strict=False) == 1
    stalled = _run(os_timer_p99_us=9000.0, **slow)
    assert "cyclictest p99 9.00 ms" in noisy(stalled)
    vs = verdicts(stalled)
    # the 1.5 x cyclictest bound grows with the stall, but the model/rules ratio still misses
    ratio = next(v for v in vs if "over rules" in v.target)
    assert ratio.outcome == WITHHELD and "machine noisy" in ratio.line()
    assert exit_status(vs, strict=False) == 0  # a stall never fails the bench
    assert exit_status(vs, strict=True) == 1   # but a strict run wants a verdict


def test_a_met_target_passes_whatever_the_noise():
    vs = verdicts(_run(rig_max_cycle_gap_ms=80.0))
    assert "stalled 80 ms" in noisy(_run(rig_max_cycle_gap_ms=80.0))
    assert {v.outcome for v in vs} == {PASS}


def test_the_model_over_rules_ratio_and_the_two_period_reactive_target():
    vs = verdicts(_run(scheduler_jitter_p99_us=500.0, control_scheduler_jitter_p99_us=400.0,
                       reactive_latency_p50_us=1400.0))
    ratio = next(v for v in vs if "over rules" in v.target)
    assert ratio.outcome == FAIL and ratio.figure.startswith("1.25")
    reactive = next(v for v in vs if v.target.startswith("reactive"))
    assert reactive.outcome == FAIL and "1.333 ms" in reactive.target  # 2 x 32 frames at 48 kHz
    assert "10.00 x cyclictest p99" in reactive.figure


def test_unmeasured_targets_are_not_run_and_only_strict_counts_them():
    r = _run()
    del r["control_scheduler_jitter_p99_us"]
    r["peer_rt"] = {"error": "isobar is not installed"}
    vs = verdicts(r)
    assert [v.outcome for v in vs if v.outcome != PASS] == [NOT_RUN, NOT_RUN]
    assert exit_status(vs, strict=False) == 0 and exit_status(vs, strict=True) == 1


def test_a_peer_ratio_on_noisy_peer_runs_is_withheld():
    r = _run(peer_rt={"median_ratio": 2.4, "runs": [{"cyclictest_p99_us": 5000.0}] * 3})
    peer = next(v for v in verdicts(r) if "real-time" in v.target and "not" not in v.target)
    assert peer.outcome == WITHHELD
    r = _run(peer_rt={"median_ratio": 2.4, "runs": [{"cyclictest_p99_us": 200.0}] * 3})
    peer = next(v for v in verdicts(r) if "real-time" in v.target and "not" not in v.target)
    assert peer.outcome == FAIL


def test_the_web_page_cost_is_a_ratio_of_the_same_run():
    r = _run(web_jitter_p99_with_us=500.0, web_jitter_p99_without_us=450.0, web_p99_ratio=500 / 450)
    web = next(v for v in verdicts(r) if "web page" in v.target)
    assert web.outcome == PASS and web.figure.startswith("1.11")
    r.update(web_jitter_p99_with_us=900.0, web_p99_ratio=2.0)
    assert next(v for v in verdicts(r) if "web page" in v.target).outcome == FAIL
    assert not any("web page" in v.target for v in verdicts(_run()))  # without --web: no such target
