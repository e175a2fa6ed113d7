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
