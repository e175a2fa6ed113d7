"""What the box adds to a live session, in one call from app.run_realtime: hot-plug endpoints and
their watcher, OSC /liveai/config/save, real-time scheduling of the sender, the recordings cap."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

from liveai.box.hotplug import HotplugInput, HotplugOutput, PortWatcher
from liveai.box.persist import default_config_path, save_config, snapshot, to_save
from liveai.box.recordings import prune_recordings
from liveai.timing.rtlimits import lock_memory, promote_current_thread

log = logging.getLogger(__name__)

SAVE, SAVED = "/liveai/config/save", "/liveai/config/saved"


SAVE_INTERVAL_S = 1.0  # at most one config write a second: a flood of saves is one write of the latest
SAVE_LOOP_WAIT_S = 2.0  # how long a save waits for the engine's loop to take the snapshot


def attach_config_save(session: Any, server: Any) -> None:
    """OSC /liveai/config/save: the engine's current settings over the config file, atomically.
    The file is written on a thread of its own (an SD card can stall a write for a long time) and
    the sender gets /liveai/config/saved s (the path). Saves coalesce (issue 29): one writer thread
    for the session, one write in flight, at most one a SAVE_INTERVAL_S, always of the latest
    state; every sender waiting is answered when the write that covers its request is done.

    The snapshot is taken on the engine's loop once per write, just before it, not once per
    request: a snapshot costs the loop about 0.4 ms of Python, and taken for each request of a
    1,000-a-second flood it was 40% of a core on the thread that hands the sender its notes."""
    from liveai.control.addresses import ADDRESSES
    if SAVE not in ADDRESSES:
        return
    cfg, eng = session.cfg, session.engine
    live = lambda: snapshot(cfg, eng.settings, getattr(session, "osc", None))  # noqa: E731
    start = live()  # what it started with: flags are not saved unless changed live
    lock = threading.Lock()
    waiting: list[tuple[str, int]] = []  # senders to answer after the next write
    wake, stop = threading.Event(), threading.Event()
    writer_thread: list[threading.Thread] = []

    def write(snap, addrs) -> None:
        path = getattr(cfg, "source", None) or default_config_path()
        try:
            p = save_config(to_save(path, start, snap), path)
        except Exception as e:
            log.error("config save to %s failed: %s", path, e)
            for addr in addrs:
                server.reply(addr, "/liveai/error", f"{SAVE}: {e}"[:200])
            return
        log.info("config saved to %s", p)
        for addr in addrs:
            server.reply(addr, SAVED, str(p))

    def on_loop() -> tuple[Any, Exception | None]:
        """The settings as the engine's loop holds them now (after every request taken below)."""
        got: dict[str, Any] = {}
        done = threading.Event()

        def take() -> None:
            try:
                got["snap"] = live()
            except Exception as e:
                got["error"] = e
            done.set()
        session.control.call_soon(take)
        deadline = time.monotonic() + SAVE_LOOP_WAIT_S
        while not done.wait(0.05):  # the session stopping ends the wait at once
            if stop.is_set() or time.monotonic() > deadline:
                return None, RuntimeError("the engine did not answer")
        return got.get("snap"), got.get("error")

    def writer() -> None:
        last = -1e9
        while True:
            wake.wait()
            if stop.is_set():
                return
            wait = last + SAVE_INTERVAL_S - time.monotonic()
            if wait > 0 and stop.wait(wait):  # more requests gather meanwhile: the latest is written
                return
            with lock:
                addrs = list(waiting)
                waiting.clear()
                wake.clear()
            if not addrs:
                continue
            snap, err = on_loop()
            last = time.monotonic()
            if err is not None:
                for addr in addrs:
                    server.reply(addr, "/liveai/error", f"{SAVE}: {err}"[:200])
                continue
            write(snap, addrs)

    def handler(args, addr) -> None:
        args = [x for x in args if x is not None]
        if args:  # optional port: answer there, on the sender's host
            addr = (addr[0], int(args[0]))
        with lock:
            if addr not in waiting:
                waiting.append(addr)
            if not writer_thread:
                writer_thread.append(threading.Thread(target=writer, name="config-save", daemon=True))
                writer_thread[0].start()
        wake.set()

    def close() -> None:
        stop.set()
        wake.set()
        for t in writer_thread:
            t.join(2.0)

    server.on(SAVE, handler)
    if hasattr(session, "closers"):
        session.closers.append(close)


def attach_box(session: Any, server: Any, midi_in: Any, midi_out: Any, box: bool = False,
               report: Callable[[str], None] | None = None) -> HotplugInput | None:
    """Call before the clocks' threads start. Returns the hot-plug input (or None). report: how a
    device that goes is said to the OSC listeners (/liveai/error)."""
    cfg = session.cfg
    attach_config_save(session, server)
    inp = out = None
    if midi_in is not None and getattr(midi_in, "hotplug", False):
        inp = HotplugInput(midi_in, session.engine.post_input, cfg.auto_in)
    if midi_out is not None and getattr(midi_out, "hotplug", False):
        out = HotplugOutput(midi_out, cfg.auto_out, [c - 1 for c in cfg.channels.values()])
        session.scheduler.outputs.insert(0, out)
    for ep in (inp, out):
        if ep is not None:
            ep.report = report
    if inp or out:
        api = (midi_in if inp else midi_out).api
        if api == "jack":  # it follows the JACK server's watch: nothing touched while the server is away
            from liveai.box.portwatch import JackPortWatcher
            watcher = JackPortWatcher([inp] if inp else [], [out] if out else [], cfg.hotplug_poll)
        else:
            watcher = PortWatcher(api, [inp] if inp else [], [out] if out else [], cfg.hotplug_poll)
        watcher.poll()  # connect at once to what is there; the sender is not running yet
        if out is not None:
            out.post = session.sender.call_soon
        watcher.start()
        for ep in (inp, out):
            if ep is not None:
                session.closers.append(ep.close)
        session.closers.append(watcher.stop)  # closers run last-first: the watcher stops before the ports close
        for ep in (inp, out):
            if ep is not None:
                if ep.connected is None:
                    log.info("no MIDI %s matches %r yet; waiting for one (checking every %g s)",
                             ep.direction, ep.want if ep.want != "auto" or not ep.pattern else ep.pattern,
                             cfg.hotplug_poll)
    if box:
        session.sender.call_soon(promote_current_thread, None, cfg.midi_api)
        lock_memory()
        if cfg.record and cfg.record_cap_mb:
            prune_recordings(Path(cfg.record), cfg.record_cap_mb)
    return inp
