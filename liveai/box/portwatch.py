"""The hot-plug watcher under JACK follows the JACK server's watch (issue 29).

liveai.box.hotplug polls JACK's port list through an rtmidi client and closes the port of a device
that went. When jackd stops, every one of those clients is dead, and closing one after libjack has
cleaned up (any client opened since the death) is a segfault: `liveai run --midi-api jack
--midi-in auto --midi-out auto` crashed on a JACK restart. So here the watcher is a member of
liveai.io.jackwatch's watch:

- server_lost: no poll runs any more (one in flight is waited for); each endpoint's rtmidi object
  and the probes are buried (liveai.io.jackwatch.bury: never called, never freed); the notes the
  player held are released, what sounded on the output is forgotten (as for an unplugged device).
- server_back: the polls start again at once, so each device is reopened by name as soon as it is
  on the new server (the hot-plug reset and programs go to the output first, as on any replug).
- a device whose port goes while the server stays up is seen on the watch's next tick
  (watch_tick wakes the poll), then said as a fault by the endpoint (liveai.box.hotplug).
- every poll looks at the server's socket before and after listing: a server that died between two
  of the watch's checks is never acted on (no endpoint closed on a dead client).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Iterable

import mido

from liveai.box.hotplug import HotplugInput, HotplugOutput, MAX_RETRY_S, PortWatcher
from liveai.io.jackwatch import bury, jack_watch, server_id

log = logging.getLogger(__name__)


class JackPortWatcher(PortWatcher):
    """A PortWatcher for JACK that stops touching ports while the server is away (see above)."""

    def __init__(self, inputs: Iterable[HotplugInput] = (), outputs: Iterable[HotplugOutput] = (),
                 poll_s: float = 1.5) -> None:
        super().__init__("jack", inputs, outputs, poll_s)
        self.away = False
        self.lost = self.back = 0
        self._poll_lock = threading.Lock()
        self._watch = jack_watch()
        self._watch.add(self)

    # -- the JACK watch's member (liveai.io.jackwatch.JackMember)
    def jack_ports(self) -> list[tuple[str, bool]]:
        return []  # the endpoints reconnect by name themselves

    def reconnected(self, port: str) -> None:
        pass

    def watch_tick(self, exists) -> None:
        """The JACK watch's tick (every 0.2 s): a connected device whose port is no longer
        registered wakes the poll now, so its loss is said within the tick, not a poll_s later."""
        if any(ep.connected is not None and not exists(ep.connected) for ep in (*self.inputs, *self.outputs)):
            self._wake.set()

    def server_lost(self) -> None:
        self.away = True
        self.lost += 1
        with self._poll_lock:  # a poll in flight finishes first
            for kind in list(self._probes):
                bury(self._probes.pop(kind))
            for ep in self.inputs:
                _lose_input(ep)
            for ep in self.outputs:
                _lose_output(ep)

    def server_back(self) -> None:
        self.away = False
        self.back += 1
        self._retry_at, self._failures = 0.0, 0
        self.poll()  # the devices already there come back now; the others on later polls

    # -- polling
    def _alive(self) -> bool:
        w = self._watch
        return not self.away and w.up and server_id(w.path) == w._id

    def poll(self) -> None:
        if not self._alive():
            return
        with self._poll_lock:
            if not self._alive():
                return
            self.polls += 1
            if time.monotonic() < self._retry_at:
                return
            lists = []
            for kind, eps in (("in", self.inputs), ("out", self.outputs)):
                if not eps:
                    continue
                try:
                    lists.append((self._lister(kind).get_ports(), eps))
                except Exception as e:
                    self._failures += 1
                    self._retry_at = time.monotonic() + min(MAX_RETRY_S, self.poll_s * 2 ** min(self._failures, 8))
                    if not self._warned:
                        log.warning("JACK MIDI is not available (%s); will keep trying", e)
                        self._warned = True
                    return
            if not self._alive():  # the server died while we listed: act on nothing
                return
            self._failures = 0
            for names, eps in lists:
                for ep in eps:
                    ep.check(names, None)

    def stop(self) -> None:
        self._watch.remove(self)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(2.0)
        with self._poll_lock:
            if self.away or not self._watch.up:
                for kind in list(self._probes):
                    bury(self._probes.pop(kind))
            else:
                self._drop_probes()


def _lose_input(ep: HotplugInput) -> None:
    """The server died under a hot-plug input: its client buried, its held notes released."""
    with ep._lock:
        inp, ep._in, ep.connected = ep._in, None, None
        held, ep.held = sorted(ep.held), set()
    if inp is not None:
        ep.losses += 1
        ep._dropped_before += inp.dropped
        old, inp._in = inp._in, None
        bury(old)
        inp.held = set()  # released here, once
        inp._polling = False
        jack_watch().remove(inp)  # it is not reopened by the watch: we reconnect by name
    t = ep.clock()
    for ch, note in held:
        ep.handler(mido.Message("note_off", channel=ch, note=note, velocity=0), t)
    if inp is not None:
        log.warning("MIDI input %s went with the JACK server; %d held note(s) released", inp.name, len(held))


def _lose_output(ep: HotplugOutput) -> None:
    """The server died under a hot-plug output: no send reaches its client again, which is buried;
    what sounded there is forgotten on the sender's loop (the reset goes out on reconnect)."""
    old, ep._out = ep._out, None
    name, ep.connected = ep.connected, None
    if old is None:
        return
    ep.losses += 1
    bury(old)
    if ep.post is None:
        ep._detach()
    else:
        ep.post(ep._detach, None)
    log.warning("MIDI output %s went with the JACK server", name)
