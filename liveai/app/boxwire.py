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


def attach_config_save(session: Any, server: Any) -> None:
    """OSC /liveai/config/save: the engine's current settings over the config file, atomically.
    The snapshot is taken on the engine's loop; the file is written on a thread of its own (an SD
    card can stall a write for a long time) and the sender gets /liveai/config/saved s (the path).
    Saves coalesce (issue 29): one snapshot per turn of the loop however many requests came, one
    write in flight, at most one a SAVE_INTERVAL_S, always of the latest state; every sender
    waiting is answered when the write that covers its request is done."""
    from liveai.control.addresses import ADDRESSES
    if SAVE not in ADDRESSES:
        return
    cfg, eng = session.cfg, session.engine
    live = lambda: snapshot(cfg, eng.settings, getattr(session, "osc", None))  # noqa: E731
    start = live()  # what it started with: flags are not saved unless changed live
    lock = threading.Lock()
    st: dict[str, Any] = {"asked": [], "queued": False, "snap": None, "waiting": [], "busy": False, "last": -1e9}

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

    def writer() -> None:
        while True:
            with lock:
                snap, addrs = st["snap"], st["waiting"]
                if snap is None:
                    st["busy"] = False
                    return
                wait = st["last"] + SAVE_INTERVAL_S - time.monotonic()
            if wait > 0:
                time.sleep(wait)  # more requests gather meanwhile: the latest is written
                continue
            with lock:
                snap, addrs = st["snap"], st["waiting"]
                st["snap"], st["waiting"], st["last"] = None, [], time.monotonic()
            write(snap, addrs)

    def take() -> None:
        with lock:
            asked, st["asked"], st["queued"] = st["asked"], [], False
        try:
            snap = live()
        except Exception as e:
            for addr in asked:
                server.reply(addr, "/liveai/error", f"{SAVE}: {e}"[:200])
            return
        with lock:
            st["snap"] = snap
            st["waiting"] += [a for a in asked if a not in st["waiting"]]
            if st["busy"]:
                return
            st["busy"] = True
        threading.Thread(target=writer, name="config-save", daemon=True).start()

    def handler(args, addr) -> None:
        args = [x for x in args if x is not None]
        if args:  # optional port: answer there, on the sender's host
            addr = (addr[0], int(args[0]))
        with lock:
            if addr not in st["asked"]:
                st["asked"].append(addr)
            if st["queued"]:
                return  # a snapshot is already on its way for this burst
            st["queued"] = True
        session.control.call_soon(take)

    server.on(SAVE, handler)


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
