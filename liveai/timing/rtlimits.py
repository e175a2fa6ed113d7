"""Real-time scheduling where the system allows it (the service sets LimitRTPRIO/LimitMEMLOCK).
The priorities themselves come from liveai.timing.realtime (one rule: below the audio server).

Only the note sender's thread asks for SCHED_FIFO: the whole process at FIFO would put the model
worker and OSC parsing above everything else on the box too. Any refusal is logged and ignored.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import resource

log = logging.getLogger(__name__)

MCL_CURRENT, MCL_FUTURE = 1, 2


def promote_current_thread(priority: int | None = None, midi_api: str | None = None) -> bool:
    """Put the calling thread (the note sender's) on SCHED_FIFO: at priority, or by default at the
    sender's priority below the audio server (liveai.timing.realtime.plan; normal priority when the
    server is not real-time), capped by RLIMIT_RTPRIO unless we are root. True if it worked."""
    from liveai.timing import realtime
    plan = realtime.plan(midi_api=midi_api)
    prio = plan.sender if priority is None else min(priority, plan.sender)
    if prio < 1:
        log.info("the sender runs at normal priority (%s)", plan.reason)
        return False
    return realtime.set_thread_priority(prio, "sender thread")


def lock_memory() -> bool:
    """mlockall(MCL_CURRENT) once start-up is done, when RLIMIT_MEMLOCK is unlimited (the service
    sets it): the code and model pages loaded so far are never paged out to the SD card's swap file.
    Not MCL_FUTURE, which would commit every thread's whole stack. True if it worked."""
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
        if soft != resource.RLIM_INFINITY and os.geteuid() != 0:
            log.debug("RLIMIT_MEMLOCK is %s: not locking memory", soft)
            return False
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.mlockall(MCL_CURRENT) != 0:
            log.info("mlockall failed: %s", os.strerror(ctypes.get_errno()))
            return False
        log.info("memory locked (mlockall)")
        return True
    except Exception as e:
        log.info("mlockall not available: %s", e)
        return False
