"""Hot-plug and auto-connect for MIDI ports.

rtmidi does not report unplugged devices (python-rtmidi's API has no port-removed event; Zynthian's autoconnect polls the same way): input just goes quiet and output
goes nowhere. So a watcher thread polls the port lists every 1-2 s, notices when the port an
endpoint is connected to has gone, and reconnects by name when it comes back.

- Input gone: the notes the player was holding get note-offs (through the same path as live input),
  so nothing the engine echoes or plans around is left hanging; the engine's clock keeps running.
- Output gone: what was sounding on it is forgotten (its own per-port state; the scheduler's tracker
  stays right for the other outputs); on reconnect it gets CC64=0, CC123 and CC120 on every channel
  used before anything else (liveai.io.output.reset_messages), because a synth that lost its cable may still hold notes.

Which port is which (ours, hardware, the same device again) is liveai/box/portnames.py.
`--midi-in auto` picks the first input that looks like hardware and is not liveai itself, or the
first that matches the config's `auto_in` pattern (likewise `auto_out` for `--midi-out auto`).

One cohesive thing, so one module: the endpoints and the watcher that polls for them share one
bookkeeping (what is wanted, what is connected, what went: a fault while it is away).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterable

import mido
import rtmidi

from liveai.io.jackwatch import jack_watch, release
from liveai.io.midi import CLIENT, APIS, MidiInput, PortNotFound, PortSpec, open_port
from liveai.box.portnames import ALSA_CLIENTS, AUTO, alsa_links, choose_port, linked_to_us, port_key
from liveai.io.output import CONTROL, NOTE_OFF, NOTE_ON, OutEvent, OutputDevice, reset_messages

log = logging.getLogger(__name__)

DEFAULT_POLL_S = 1.5
MAX_RETRY_S = 30.0  # longest wait between tries while the MIDI system itself is missing
CONNECT_SETTLE_S = 0.1  # JACK drops what is sent in the first periods after jack_connect (measured)

def _open(direction: str, api: str, port: str, port_name: str):
    """A new rtmidi object connected to the port named exactly port; (object, name) or (None, None)
    when the port is gone again (liveai.io.midi.open_port, as every other port liveai opens)."""
    try:
        return open_port(direction, api, port_name, port, exact=True)
    except PortNotFound:
        return None, None


class _Endpoint:
    """Shared bookkeeping: what we want, what we are connected to."""

    direction = "input"

    def __init__(self, spec: PortSpec, pattern: str | None) -> None:
        self.spec = spec
        self.want = spec.name or AUTO
        self.pattern = pattern
        self.connected: str | None = None
        self.key: str | None = None
        self.losses = self.connects = 0
        self._failed: str | None = None
        self.report: Callable[[str], None] | None = None  # a fault, once (OSC /liveai/error)
        self._gone: str | None = None  # the device lost and not yet back (a fault while so)

    @property
    def fault_key(self) -> str:
        return f"midi {self.direction}:{self.want}"

    def _fault(self, port: str) -> None:
        """The device went: said once (terminal, /liveai/error, the live view's FAULT line)."""
        from liveai.io.faults import faults
        self._gone = port
        why = f"MIDI {self.direction} {port} is gone; waiting for it to come back"
        log.error(why)
        if faults().raise_(self.fault_key, f"MIDI {self.direction} {port} gone") and self.report is not None:
            try:
                self.report(why)
            except Exception:
                log.exception("reporting a lost MIDI %s", self.direction)

    def _back(self, port: str) -> None:
        from liveai.io.faults import faults
        if self._gone is not None:
            log.warning("MIDI %s is back: %s (was %s)", self.direction, port, self._gone)
        self._gone = None
        faults().clear(self.fault_key)

    @property
    def name(self) -> str:
        return self.connected or f"{self.want} (waiting for a device)"

    def check(self, names: list[str], links: dict[tuple[int, int], set[str]] | None = None) -> None:
        """Called by the watcher with the current port list of our direction (and, under ALSA,
        who is subscribed to what)."""
        if self.connected is not None and self.connected not in names:
            self.losses += 1
            port = self.connected
            self.lose()
            self._fault(port)
        elif self.connected is not None and linked_to_us(self.connected, links) is False:
            self.losses += 1
            log.warning("MIDI %s %s was unplugged and plugged back; reconnecting", self.direction, self.connected)
            self.lose()
        if self.connected is None:
            port = choose_port(names, self.want, self.pattern, self.key)
            if port is not None:
                try:
                    if self.connect(port):
                        self.connects += 1
                        self.key = port_key(port)
                        log.info("MIDI %s connected: %s", self.direction, port)
                        self._back(port)
                except Exception as e:
                    if self._failed != port:  # once per port, not every poll (keep the journal small)
                        log.warning("MIDI %s %s: cannot connect (%s); will retry", self.direction, port, e)
                    self._failed = port
                else:
                    self._failed = None

    def connect(self, port: str) -> bool:
        raise NotImplementedError

    def lose(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class HotplugInput(_Endpoint):
    """A player input that follows its device: handler(mido.Message, arrival_time) as MidiInput."""

    direction = "input"

    def __init__(self, spec: PortSpec, handler: Callable[[mido.Message, float], None],
                 pattern: str | None = None, clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__(spec, pattern)
        self.handler = handler
        self.clock = clock
        self.held: set[tuple[int, int]] = set()
        self._lock = threading.Lock()
        self._in: MidiInput | None = None
        self._dropped_before = 0

    def connect(self, port: str) -> bool:
        """Open the port as a MidiInput (under JACK it polls, never runs Python in JACK's process
        callback; under ALSA a callback), exactly as a fixed --midi-in does."""
        try:
            inp = MidiInput(PortSpec(self.spec.api, port, False, self.spec.port_name), self._heard,
                            self.clock, exact=True)
        except PortNotFound:
            return False
        with self._lock:
            self._in, self.connected = inp, inp.name
        return True

    @property
    def dropped(self) -> int:
        """Bad messages dropped, on every connection so far."""
        inp = self._in
        return self._dropped_before + (inp.dropped if inp is not None else 0)

    def _heard(self, msg: mido.Message, t: float) -> None:
        with self._lock:
            if msg.type == "note_on" and msg.velocity > 0:
                self.held.add((msg.channel, msg.note))
            elif msg.type in ("note_off", "note_on"):
                self.held.discard((msg.channel, msg.note))
        self.handler(msg, t)  # MidiInput logs a handler that fails

    def lose(self) -> None:
        with self._lock:
            inp, self._in, self.connected = self._in, None, None
            held, self.held = sorted(self.held), set()
        if inp is not None:
            self._close_input(inp)
        t = self.clock()
        for ch, note in held:
            self.handler(mido.Message("note_off", channel=ch, note=note, velocity=0), t)
        if held:
            log.info("released %d note(s) held on the lost input", len(held))

    def _close_input(self, inp: MidiInput) -> None:
        self._dropped_before += inp.dropped
        try:
            inp.close()
        except Exception as e:  # a port whose device vanished may complain; it is gone either way
            log.debug("closing rtmidi port: %s", e)

    def close(self) -> None:
        with self._lock:
            inp, self._in, self.connected = self._in, None, None
        if inp is not None:
            self._close_input(inp)


class HotplugOutput(_Endpoint, OutputDevice):
    """A MIDI output that follows its device. send() runs on the sender's loop; connecting and
    losing are handed to that loop too (post), so the rtmidi object is swapped between sends."""

    direction = "output"

    def __init__(self, spec: PortSpec, pattern: str | None = None, channels: Iterable[int] = (),
                 post: Callable[..., object] | None = None) -> None:
        _Endpoint.__init__(self, spec, pattern)
        self.post = post  # run a callable on the sender's loop; None: call at once (tests, start-up)
        self.sounding: set[tuple[int, int]] = set()  # what this port really has on, by its own wire
        self.channels: set[int] = {c for c in channels}  # 0-15
        self.dropped_notes = 0
        self._out = None
        self.programs: dict[int, list] = {}  # channel -> its last bank select and program change, for a new device

    # -- sender loop side
    def send(self, ev: OutEvent) -> None:
        if ev.kind == NOTE_ON:
            self.sounding.add((ev.channel, ev.data1))
            self.channels.add(ev.channel)
        elif ev.kind == NOTE_OFF:
            self.sounding.discard((ev.channel, ev.data1))
        elif ev.kind == CONTROL:
            self.channels.add(ev.channel)
            if ev.data1 == 0:  # bank select MSB starts a program selection (liveai.io.programs)
                self.programs[ev.channel] = [ev.midi]
            elif ev.data1 == 32 and ev.channel in self.programs:
                self.programs[ev.channel].append(ev.midi)
        elif ev.kind == "pc":
            self.programs.setdefault(ev.channel, []).append(ev.midi)
            self.programs[ev.channel] = self.programs[ev.channel][-3:]
        out = self._out
        if out is not None:
            out.send_message(ev.midi)

    def send_raw(self, data) -> None:
        if self._out is not None:
            self._out.send_message(data)

    def _attach(self, m, done: threading.Event | None = None) -> None:
        for ev in reset_messages(channels=sorted(self.channels)):  # the synth may still hold notes from before
            m.send_message(ev.midi)
        for msgs in self.programs.values():  # a replugged synth has forgotten its instruments
            for data in msgs:
                m.send_message(data)
        self.sounding.clear()
        self._out = m
        if done:
            done.set()

    def _detach(self, done: threading.Event | None = None) -> None:
        self._out = None
        n = len(self.sounding)
        self.dropped_notes += n
        self.sounding.clear()  # those notes are closed as far as this port is concerned
        if n:
            log.info("closed %d note(s) sounding on the lost output", n)
        if done:
            done.set()

    def _on_loop(self, fn, *args) -> None:
        if self.post is None:
            fn(*args)
            return
        done = threading.Event()
        self.post(fn, *args, done)
        if not done.wait(2.0):
            log.warning("sender loop did not answer within 2 s")

    # -- watcher side
    def connect(self, port: str) -> bool:
        m, name = _open("output", self.spec.api, port, self.spec.port_name)
        if m is None:
            return False
        self.connected = name
        self.generation = jack_watch().generation if self.spec.api == "jack" else 0
        time.sleep(CONNECT_SETTLE_S)  # JACK: a connection takes effect a few periods later
        self._on_loop(self._attach, m)
        return True

    def lose(self) -> None:
        old = self._out
        self.connected = None
        self._on_loop(self._detach)
        if old is not None:
            self._delete(old)

    def close(self) -> None:
        m, self._out, self.connected = self._out, None, None
        if m is not None:
            self._delete(m)

    def _delete(self, m) -> None:
        """Under JACK, a port opened before the server died is buried, never closed (liveai.io.jackwatch)."""
        if self.spec.api == "jack":
            release(m, getattr(self, "generation", 0))
        else:
            _delete(m)


def _delete(m) -> None:
    try:
        m.close_port()
        m.delete()
    except Exception as e:  # a port whose device vanished may complain; it is gone either way
        log.debug("closing rtmidi port: %s", e)


class PortWatcher:
    """Polls the port lists every poll_s seconds and lets each endpoint follow its device."""

    def __init__(self, api: str, inputs: Iterable[HotplugInput] = (), outputs: Iterable[HotplugOutput] = (),
                 poll_s: float = DEFAULT_POLL_S) -> None:
        self.api = api
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.poll_s = poll_s
        self.polls = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._probes: dict[str, object] = {}
        self._warned = False
        self._failures = 0
        self._retry_at = 0.0
        self._wake = threading.Event()  # poll now, not at the next poll_s (a port seen gone)

    def _lister(self, kind: str):
        """An rtmidi object to list ports of one direction with. Under JACK, listing is thread-safe
        and every client costs a wake-up per period (about 0.7 % of a core here), so a connected
        endpoint's own client is used and a probe client exists only while one is disconnected."""
        if self.api == "jack":
            own = ([ep._in.port if ep._in is not None else None for ep in self.inputs] if kind == "in"
                   else [ep._out for ep in self.outputs])
            own = next((m for m in own if m is not None), None)
            if own is not None:
                self._drop_probe(kind)
                return own
        if self._probes.get(kind) is None:
            cls = rtmidi.MidiIn if kind == "in" else rtmidi.MidiOut
            self._probes[kind] = cls(APIS[self.api], name=f"{CLIENT}-probe")
        return self._probes[kind]

    def _drop_probe(self, kind: str) -> None:
        m = self._probes.pop(kind, None)
        if m is not None:
            try:
                m.delete()
            except Exception:
                pass

    def _drop_probes(self) -> None:
        for kind in list(self._probes):
            self._drop_probe(kind)

    def _alsa_links(self) -> dict[tuple[int, int], set[str]] | None:
        if self.api != "alsa":
            return None
        try:
            with open(ALSA_CLIENTS, encoding="utf-8", errors="replace") as f:
                return alsa_links(f.read())
        except OSError:
            return None

    def poll(self) -> None:
        self.polls += 1
        if time.monotonic() < self._retry_at:
            return
        links = self._alsa_links()
        for kind, eps in (("in", self.inputs), ("out", self.outputs)):
            if not eps:
                continue
            try:
                names = self._lister(kind).get_ports()
            except Exception as e:  # no ALSA sequencer / JACK server (yet): keep trying, less and less often
                self._failures += 1  # (alsa-lib prints to stderr on every try: keep the journal small)
                delay = min(MAX_RETRY_S, self.poll_s * 2 ** min(self._failures, 8))
                self._retry_at = time.monotonic() + delay
                if not self._warned:
                    log.warning("MIDI API %s is not available (%s); will keep trying (up to every %g s)",
                                self.api, e, MAX_RETRY_S)
                    self._warned = True
                self._drop_probe(kind)
                return
            self._failures = 0
            for ep in eps:
                ep.check(names, links)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.poll()
            except Exception:
                log.exception("hot-plug poll failed")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hotplug", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(2.0)
        self._drop_probes()
