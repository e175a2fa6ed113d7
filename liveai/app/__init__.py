"""The wiring of a run, the top of the layers: the Session (engine, band, outputs and recorder built
from a Config), the real-time and simulated runs with their signal handling, the clock-source
wiring and what the headless box adds. Nothing below imports it."""
