"""latency_bench.show runs the real `liveai show` on takes of a given size and reports time and memory."""
import json

from latency_bench.show import main


def test_sizes_are_measured_through_the_cli(capsys):
    assert main(["--notes", "600,1200", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert [row["notes"] for row in r["rows"]] == [600, 1200]
    for row in r["rows"]:
        assert row["seconds"] > 0 and row["peak_mb"] > 0 and row["svg_mb"] > 0
    assert r["size_ratio"] == 2.0 and r["time_ratio"] > 0


def test_a_52_minute_take_is_drawn_in_seconds_and_under_200_mb(tmp_path):
    """Issue 29 item 5's check: `liveai show` on 100,000 notes (about 52 minutes) under 10 s and
    200 MB (it took 76 s and 135 MB). The memory is the child's own peak (os.wait4); the time is
    the CPU seconds it spent, which a busy shared machine does not inflate the way it does the wall
    clock (both are printed; `python -m latency_bench.show` measures the same)."""
    from latency_bench.show import measure
    r = measure(100_000, tmp_path)
    print(f"100,000 notes: {r['seconds']:.1f} s wall, {r['cpu_s']:.1f} s CPU, peak {r['peak_mb']:.0f} MB")
    assert r["peak_mb"] < 200, r
    assert r["cpu_s"] < 10.0, r
