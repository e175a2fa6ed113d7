"""latency_bench.peer's grid jitter: the figure the isobar side by side compares."""
from latency_bench.peer import STEP, grid_jitter


def test_a_constant_latency_is_no_jitter():
    times = [10.0 + i * STEP + 0.003 for i in range(50)]
    assert max(grid_jitter(times)) < 1e-3  # us


def test_one_late_note_is_its_lateness():
    times = [10.0 + i * STEP for i in range(50)]
    times[20] += 0.0005
    jit = grid_jitter(times)
    assert abs(jit[-1] - 500.0) < 1e-3 and jit[-2] < 1e-3


def test_notes_on_the_grid_but_not_every_step():
    times = [5.0 + i * STEP for i in (0, 3, 4, 9, 15)]
    assert max(grid_jitter(times)) < 1e-3
    assert grid_jitter([]) == []
