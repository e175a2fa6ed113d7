"""Real-time scheduling where the system allows it (the service sets LimitRTPRIO/LimitMEMLOCK).

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

from liveai.timing.priority import SENDER_PRIORITY, set_thread_priority  # noqa: E402
MCL_CURRENT, MCL_FUTURE = 1, 2


def promote_current_thread(priority: int = SENDER_PRIORITY) -> bool:
    """Put the calling thread (Linux: pid 0 = this thread) on SCHED_FIFO at priority, capped by
    RLIMIT_RTPRIO unless we are root. True if it worked."""
    return set_thread_priority(priority, "sender thread", cap=True, refused=logging.INFO)


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
