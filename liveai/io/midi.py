"""MIDI ports through python-rtmidi (ALSA or JACK), messages as mido objects.

Ports are matched by substring (ALSA client:port numbers change between boots), `--virtual` opens
our own named ports, and input is timestamped on arrival in the rtmidi callback thread.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import mido
import rtmidi

from liveai.io.jackwatch import jack_watch, release
from liveai.io.output import OutEvent, OutputDevice, WireState, reset_messages

log = logging.getLogger(__name__)

APIS = {"alsa": rtmidi.API_LINUX_ALSA, "jack": rtmidi.API_UNIX_JACK}
CLIENT = "liveai"


class PortNotFound(LookupError):
    pass


class MidiUnavailable(RuntimeError):
    """The MIDI system itself is missing (no ALSA sequencer, no JACK server)."""


def client_name(api: str, port_name: str = "out") -> str:
    """Our client's name. ALSA lets every client be `liveai` (liveai:in, liveai:out). JACK names
    must be unique, and rtmidi makes one JACK client per port: left to JACK, the second became
    `liveai-01` (`liveai-01:in`, in whichever order they opened). So under JACK the output is
    `liveai:out` and every other port gets a client named after it: `liveai-in:in`,
    `liveai-clock:clock`; the same names every time, the ones the README and the banner give."""
    if api != "jack" or port_name == "out":
        return CLIENT
    return f"{CLIENT}-{port_name}"


def _client(cls: type, api: str, port_name: str = "out"):
    """An rtmidi MidiIn/MidiOut named client_name(); a clear error (not rtmidi's OSError) if the API is down."""
    try:
        return cls(_api(api), name=client_name(api, port_name))
    except rtmidi.SystemError as e:
        hint = "is a JACK server running?" if api == "jack" else "is there an ALSA sequencer (/dev/snd/seq)?"
        raise MidiUnavailable(f"MIDI API {api} is not available ({e}); {hint}") from None


def _api(api: str) -> int:
    try:
        return APIS[api]
    except KeyError:
        raise ValueError(f"unknown MIDI API {api!r}; choose one of {', '.join(APIS)}") from None


def midi_available(api: str = "alsa") -> str:
    """'' if the MIDI system is there, else why not (no ALSA sequencer, no JACK server)."""
    if api == "alsa" and not os.path.exists("/dev/snd/seq"):
        return "there is no ALSA sequencer (/dev/snd/seq is missing; `sudo modprobe snd-seq` loads it)"
    try:
        rtmidi.MidiOut(_api(api), name=f"{CLIENT}-probe").delete()
    except rtmidi.SystemError as e:
        return f"MIDI API {api} is not available ({e})" + ("; is a JACK server running?" if api == "jack" else "")
    return ""


def list_ports(api: str = "alsa") -> tuple[list[str], list[str]]:
    """(input port names, output port names) of the API; empty lists if it is not available."""
    try:
        i = rtmidi.MidiIn(_api(api), name=f"{CLIENT}-probe")
        o = rtmidi.MidiOut(_api(api), name=f"{CLIENT}-probe")
    except rtmidi.SystemError as e:  # no ALSA sequencer / no JACK server
        log.warning("MIDI API %s is not available: %s", api, e)
        return [], []
    try:
        return i.get_ports(), o.get_ports()
    finally:
        i.delete()
        o.delete()


def find_port(names: list[str], wanted: str, what: str) -> int:
    """Index of the first port whose name contains wanted (case-insensitive)."""
    for i, n in enumerate(names):
        if wanted.lower() in n.lower():
            return i
    listing = "\n  ".join(names) if names else "(none)"
    raise PortNotFound(f"no MIDI {what} port matches {wanted!r}; the ports there are:\n  {listing}")


def open_port(direction: str, api: str, port_name: str, connect: str | None = None, *,
              virtual: bool = False, exact: bool = False) -> tuple[Any, str]:
    """The one way liveai opens a MIDI port: (rtmidi MidiIn/MidiOut, the name it is known by).

    MidiInput, MidiOutput, the sender process and hot-plug all come here, so client names, the
    input's message filter and the clean-up on failure cannot drift apart. virtual (or no
    `connect`): our own port named port_name; else connect to the first port whose name contains
    `connect` (case-insensitive), or, with exact, the port of exactly that name. Raises
    MidiUnavailable (no MIDI system) or PortNotFound; never leaves a client behind (a JACK server
    stalls on one that dies unclosed)."""
    if direction not in ("input", "output"):
        raise ValueError(f"direction must be input or output, not {direction!r}")
    m = _client(rtmidi.MidiIn if direction == "input" else rtmidi.MidiOut, api, port_name)
    try:
        if direction == "input":
            m.ignore_types(sysex=True, timing=False, active_sense=True)  # keep MIDI clock
        if virtual or connect is None:
            m.open_virtual_port(port_name)
            return m, f"{client_name(api, port_name)}:{port_name} (virtual)"
        ports = m.get_ports()
        if exact:
            if connect not in ports:
                raise PortNotFound(f"no MIDI {direction} port named {connect!r}")
            i = ports.index(connect)
        else:
            i = find_port(ports, connect, direction)
        m.open_port(i, port_name)
        return m, ports[i]
    except BaseException:
        m.delete()
        raise


@dataclass
class PortSpec:
    api: str = "alsa"
    name: str | None = None  # substring of an existing port
    virtual: bool = False  # open our own port instead
    port_name: str = "in"  # the name of our port (virtual) / our client-side port
    hotplug: bool = False  # follow the device: wait for it, reconnect by name (liveai/box/hotplug.py)


class MidiInput:
    """A player input; calls handler(mido.Message, arrival_time) from rtmidi's thread (ALSA) or a
    polling thread of ours (JACK). exact: spec.name is a port's full name (hot-plug), not a substring."""

    def __init__(self, spec: PortSpec, handler: Callable[[mido.Message, float], None],
                 clock: Callable[[], float] = time.perf_counter, exact: bool = False) -> None:
        self.handler = handler
        self.clock = clock
        self.dropped = 0
        self.spec = spec
        self.held: set[tuple[int, int]] = set()  # (channel, note) the player holds: released if JACK dies
        self.generation = jack_watch().generation if spec.api == "jack" else 0
        from liveai.timing.realtime import short_slice, thread_ids
        before = thread_ids()
        self._in, self.name = open_port("input", spec.api, spec.port_name, spec.name,
                                        virtual=spec.virtual, exact=exact)
        try:
            self._poller: threading.Thread | None = None
            self._polling = False
            if spec.api == "jack":
                # Never run Python inside JACK's process callback: there it waits for the GIL, and
                # in a sync-mode graph every client's cycle waits with it (measured: notes 10-17 ms
                # late at p95). rtmidi queues input lock-free; a thread of ours drains it.
                self._polling = True
                self._poller = threading.Thread(target=self._poll, name="midi-in", daemon=True)
                self._poller.start()
                short_slice(thread_ids() - before)  # JACK's client thread, when JACK is not real-time
                jack_watch().add(self, [] if spec.virtual or spec.name is None else [(self.name, self.jack_port)])
            else:
                self._in.set_callback(self._callback)
        except BaseException:
            self._in.delete()  # leave no client behind (a JACK server stalls on one that dies unclosed)
            raise

    @property
    def port(self) -> Any:
        """The rtmidi MidiIn behind this input (hot-plug lists JACK's ports with it); None while
        the JACK server is away."""
        return self._in

    # -- the JACK server's watch (liveai.io.jackwatch)
    @property
    def jack_port(self) -> str:
        return f"{client_name('jack', self.spec.port_name)}:{self.spec.port_name}"

    def jack_ports(self) -> list[tuple[str, bool]]:
        return [(self.jack_port, False)]

    def server_lost(self) -> None:
        old, self._in = self._in, None
        release(old, -1)  # dead: buried, never closed
        held, self.held = sorted(self.held), set()
        t = self.clock()
        for ch, note in held:  # the player's keyboard went with the server: nothing it held hangs
            self._deliver([0x80 | ch, note, 0], t)

    def server_back(self) -> None:
        if self._in is None:
            self._in, _ = open_port("input", "jack", self.spec.port_name, virtual=True)
            self.generation = jack_watch().generation

    def reconnected(self, port: str) -> None:
        pass

    def peer_lost(self, port: str) -> None:
        """The keyboard's port went (its client closed, the server stays up): what it held is
        released, as when the server goes."""
        held, self.held = sorted(self.held), set()
        t = self.clock()
        for ch, note in held:
            self._deliver([0x80 | ch, note, 0], t)

    POLL_ACTIVE_S = 0.00025  # while the player plays: a note waits 0.125 ms on average (issue 16 part 4)
    POLL_IDLE_S = 0.002  # after 5 s of quiet: 500 wake-ups a second, under 1% CPU

    def _poll(self) -> None:
        """Drain rtmidi's queue. Arrival times come from rtmidi's delta times (JACK's clock, taken
        in the process cycle) chained from the previous message, so they are as exact as a
        callback's; only the first message after opening is stamped at poll time."""
        last_active = 0.0
        last_t: float | None = None
        while self._polling:
            burst = []
            port = self._in  # None while the JACK server is away (swapped by the watch)
            while port is not None and (m := port.get_message()) is not None:
                burst.append(m)
            now = self.clock()
            if burst:
                last_active = now
                times = []
                if last_t is not None:
                    t = last_t
                    for _, delta in burst:
                        t += delta
                        times.append(t)
                if not times or times[-1] > now or now - times[-1] > 0.05:
                    # no chain yet (or it broke): back-date from now by the deltas
                    times, later = [], 0.0
                    for _, delta in reversed(burst):
                        times.append(now - later)
                        later += delta
                    times.reverse()
                for (data, _), t in zip(burst, times):
                    self._deliver(data, t)
                last_t = times[-1]
            time.sleep(self.POLL_ACTIVE_S if now - last_active < 5.0 else self.POLL_IDLE_S)

    def _callback(self, event: tuple[list[int], float], data: object = None) -> None:
        self._deliver(event[0], self.clock())

    def _deliver(self, data_bytes: list[int], t: float) -> None:
        try:
            msg = mido.Message.from_bytes(data_bytes)
        except (ValueError, TypeError, IndexError) as e:
            self.dropped += 1
            if self.dropped <= 5:
                log.warning("dropped bad MIDI input %s: %s", data_bytes[:8], e)
            return
        if msg.type == "note_on" and msg.velocity > 0:
            self.held.add((msg.channel, msg.note))
        elif msg.type in ("note_off", "note_on"):
            self.held.discard((msg.channel, msg.note))
        try:
            self.handler(msg, t)
        except Exception:
            log.exception("MIDI input handler failed")

    def close(self) -> None:
        if self._poller is not None:
            jack_watch().remove(self)
            self._polling = False
            self._poller.join(1.0)
            if self._in is not None:
                release(self._in, self.generation)
            self._in = None
            return
        self._in.cancel_callback()
        self._in.close_port()
        self._in.delete()


class MidiOutput(OutputDevice):
    """A MIDI output port. send() hands pre-built bytes to rtmidi.

    Under JACK the port is watched (liveai.io.jackwatch, unless watch is False): what it has told
    the wire is kept (WireState), a dead server stops its sends at once (a dead rtmidi client
    blocks once its buffer fills), and when the server is back the port opens again with the same
    name; each connection the watch restores gets the reset, the programs and the notes that
    should be sounding."""

    def __init__(self, spec: PortSpec, watch: bool = True) -> None:
        self.spec = spec
        self._out, self.name = open_port("output", spec.api, spec.port_name, spec.name, virtual=spec.virtual)
        self._send = self._out.send_message
        self.state: WireState | None = None
        self.generation = 0
        self._watched = spec.api == "jack" and watch
        if self._watched:
            w = jack_watch()
            self.generation = w.generation
            self.state = WireState()
            self._lock = threading.Lock()  # the sender and the watch's replay write one ring buffer
            self._wire = self._out.send_message
            self._send = self._tracked
            w.add(self, [] if spec.virtual or spec.name is None else [(self.jack_port, self.name)])

    def send(self, ev: OutEvent) -> None:
        self._send(ev.midi)

    def send_raw(self, data: list[int] | tuple[int, ...]) -> None:
        self._send(data)

    def _tracked(self, data) -> None:
        m = list(data)
        with self._lock:
            self.state.note(m)
            self._wire(m)

    # -- the JACK server's watch (liveai.io.jackwatch)
    @property
    def jack_port(self) -> str:
        return f"{client_name('jack', self.spec.port_name)}:{self.spec.port_name}"

    def jack_ports(self) -> list[tuple[str, bool]]:
        return [(self.jack_port, True)]

    def server_lost(self) -> None:
        with self._lock:
            old, self._out, self._wire = self._out, None, _nowhere
        release(old, -1)  # dead: buried, never closed

    def server_back(self) -> None:
        if self._out is None:
            out, _ = open_port("output", "jack", self.spec.port_name, virtual=True)
            with self._lock:
                self._out, self._wire = out, out.send_message
                self.generation = jack_watch().generation

    def reconnected(self, port: str) -> None:
        """A connection is back: a reset (the other end may hold notes from before), then each
        channel's bank and program, then the notes that should be sounding."""
        with self._lock:
            for ev in reset_messages(channels=sorted(self.state.channels)):
                self._wire(list(ev.midi))
            msgs = self.state.replay()
            for m in msgs:
                self._wire(m)
        log.info("MIDI out %s: %d programs and notes sent again to %s", self.jack_port, len(msgs), port)

    def close(self) -> None:
        if self._watched:
            jack_watch().remove(self)
            with self._lock:
                out, self._out, self._wire = self._out, None, _nowhere
            if out is not None:
                release(out, self.generation)
            return
        self._out.close_port()
        self._out.delete()


def _nowhere(data: Any) -> None:
    """Where a port's sends go while the JACK server is away."""
