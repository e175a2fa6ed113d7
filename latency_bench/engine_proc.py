"""The real engine (`liveai ...` arguments), run by latency_bench in a process of its own, which on
exit writes what only the engine knows to a JSON file: the sender's own lateness record
(Scheduler.lateness), the marks set by SIGUSR1 (the bench's phase boundaries) and engine stats.
With LIVEAI_BENCH_RT=1 every engine thread runs on SCHED_FIFO 50 and the sender's on 70 (`liveai run
--box` raises only the sender's).

    python -m latency_bench.engine_proc OUT.json run --midi-api jack ...
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time


def main(argv: list[str]) -> int:
    out_path, args = argv[0], argv[1:]
    if os.environ.get("LIVEAI_BENCH_RT") == "1":
        # Every thread of the engine on SCHED_FIFO 50 (threads inherit it from this one), the sender
        # 70: on a machine loaded by other work, a normal-priority engine thread that holds the GIL
        # can be preempted for tens of ms while the real-time threads wait for it (GIL inversion).
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(50))
        except (OSError, AttributeError) as e:
            print(f"engine_proc: no real-time scheduling: {e}", file=sys.stderr)
    import liveai.app as app
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
            if os.environ.get("LIVEAI_BENCH_RT") == "1":  # as `liveai run --box` does, without hot-plug
                from liveai.box.rt import promote_current_thread
                session.sender.call_soon(promote_current_thread)
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
