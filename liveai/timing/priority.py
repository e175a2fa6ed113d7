"""Thread priority: the one place liveai asks the OS for (or gives up) real-time scheduling.

Who runs at what, highest first: JACK (80), the note sender (70: box.rt, the sender process),
every other engine thread with --realtime (50: timing.sources.realtime_engine); OSC input and
latency_bench's load processes go back to normal scheduling (io.osc, latency_bench.common).
On Linux pid 0 means the calling thread. Any refusal is logged and ignored.
"""
from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

ENGINE_PRIORITY = 50
SENDER_PRIORITY = 70


def set_thread_priority(priority: int | None, who: str = "thread", cap: bool = False,
                        refused: int = logging.WARNING) -> bool:
    """SCHED_FIFO at priority for the calling thread (threads it starts inherit it); None: back to
    normal scheduling if it inherited FIFO/RR. cap: lower the priority to RLIMIT_RTPRIO rather than
    be refused (unless root). refused: the log level of a refusal. True if it worked."""
    if not hasattr(os, "sched_setscheduler"):
        return False
    if priority is None:
        try:
            if os.sched_getscheduler(0) in (os.SCHED_FIFO, os.SCHED_RR):
                os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
            return True
        except (OSError, AttributeError):
            return False
    try:
        if cap:
            import resource
            soft, _ = resource.getrlimit(resource.RLIMIT_RTPRIO)
            if os.geteuid() != 0 and soft != resource.RLIM_INFINITY:
                priority = min(priority, soft)
            if priority < 1:
                log.log(refused, "real-time scheduling not allowed (RLIMIT_RTPRIO 0); %s run at normal priority", who)
                return False
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        log.info("%s: SCHED_FIFO priority %d", who, priority)
        return True
    except (OSError, AttributeError) as e:
        log.log(refused, "real-time scheduling not allowed (%s); %s run at normal priority", e, who)
        return False
