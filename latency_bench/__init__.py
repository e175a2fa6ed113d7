"""latency_bench: measures liveai timing in one run (python -m latency_bench)."""
