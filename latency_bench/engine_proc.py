"""The real engine (`liveai ...` arguments), run by latency_bench in a process of its own, which on
exit writes what only the engine knows to a JSON file: the sender's own lateness record
(Scheduler.lateness), the marks set by SIGUSR1 (the bench's phase boundaries) and engine stats.

    python -m latency_bench.engine_proc OUT.json run --midi-api jack ...
"""
from __future__ import annotations

import json
import signal
import sys
import time


def main(argv: list[str]) -> int:
    out_path, args = argv[0], argv[1:]
    import liveai.app.run as app
    import liveai.cli as cli

    holder: list = []
    marks: list[tuple[float, int]] = []
    orig = app.run_realtime

    def on_usr1(*_):
        if holder:
            marks.append((time.perf_counter(), len(holder[0].scheduler.lateness)))

    signal.signal(signal.SIGUSR1, on_usr1)

    def run_realtime(*a, **kw):
        user_ready = kw.pop("on_ready", None)

        def ready(session):
            holder.append(session)
            if user_ready:
                user_ready(session)
        kw["on_ready"] = ready
        session = orig(*a, **kw)
        st = session.engine.stats
        data = {"lateness_s": list(session.scheduler.lateness), "marks": marks,
                "generator": session.engine.primary.name,
                "stats": {k: getattr(st, k) for k in ("steps", "primary_steps", "fallback_steps", "late_steps", "errors")}}
        with open(out_path, "w") as f:
            json.dump(data, f)
        return session

    app.run_realtime = run_realtime
    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
