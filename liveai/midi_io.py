"""MIDI ports through python-rtmidi (ALSA or JACK), messages as mido objects.

Ports are matched by substring (ALSA client:port numbers change between boots), `--virtual` opens
our own named ports, and input is timestamped on arrival in the rtmidi callback thread.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

import mido
import rtmidi

from liveai.output import OutEvent, OutputDevice

log = logging.getLogger(__name__)

APIS = {"alsa": rtmidi.API_LINUX_ALSA, "jack": rtmidi.API_UNIX_JACK}
CLIENT = "liveai"


class PortNotFound(LookupError):
    pass


class MidiUnavailable(RuntimeError):
    """The MIDI system itself is missing (no ALSA sequencer, no JACK server)."""


def _client(cls: type, api: str):
    """An rtmidi MidiIn/MidiOut named CLIENT; a clear error (not rtmidi's OSError) if the API is down."""
    try:
        return cls(_api(api), name=CLIENT)
    except rtmidi.SystemError as e:
        hint = "is a JACK server running?" if api == "jack" else "is there an ALSA sequencer (/dev/snd/seq)?"
        raise MidiUnavailable(f"MIDI API {api} is not available ({e}); {hint}") from None


def _api(api: str) -> int:
    try:
        return APIS[api]
    except KeyError:
        raise ValueError(f"unknown MIDI API {api!r}; choose one of {', '.join(APIS)}") from None


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


@dataclass
class PortSpec:
    api: str = "alsa"
    name: str | None = None  # substring of an existing port
    virtual: bool = False  # open our own port instead
    port_name: str = "in"  # the name of our port (virtual) / our client-side port
    hotplug: bool = False  # follow the device: wait for it, reconnect by name (liveai/box/hotplug.py)


class MidiInput:
    """A player input; calls handler(mido.Message, arrival_time) from rtmidi's thread."""

    def __init__(self, spec: PortSpec, handler: Callable[[mido.Message, float], None],
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.handler = handler
        self.clock = clock
        self.dropped = 0
        self._in = _client(rtmidi.MidiIn, spec.api)
        try:
            self._in.ignore_types(sysex=True, timing=False, active_sense=True)  # keep MIDI clock
            if spec.virtual or spec.name is None:
                self._in.open_virtual_port(spec.port_name)
                self.name = f"{CLIENT}:{spec.port_name} (virtual)"
            else:
                ports = self._in.get_ports()
                i = find_port(ports, spec.name, "input")
                self._in.open_port(i, spec.port_name)
                self.name = ports[i]
            self._in.set_callback(self._callback)
        except BaseException:
            self._in.delete()  # leave no client behind (a JACK server stalls on one that dies unclosed)
            raise

    def _callback(self, event: tuple[list[int], float], data: object = None) -> None:
        t = self.clock()
        data_bytes = event[0]
        try:
            msg = mido.Message.from_bytes(data_bytes)
        except (ValueError, TypeError, IndexError) as e:
            self.dropped += 1
            if self.dropped <= 5:
                log.warning("dropped bad MIDI input %s: %s", data_bytes[:8], e)
            return
        try:
            self.handler(msg, t)
        except Exception:
            log.exception("MIDI input handler failed")

    def close(self) -> None:
        self._in.cancel_callback()
        self._in.close_port()
        self._in.delete()


class MidiOutput(OutputDevice):
    """A MIDI output port. send() hands pre-built bytes to rtmidi."""

    def __init__(self, spec: PortSpec) -> None:
        self._out = _client(rtmidi.MidiOut, spec.api)
        try:
            if spec.virtual or spec.name is None:
                self._out.open_virtual_port(spec.port_name)
                self.name = f"{CLIENT}:{spec.port_name} (virtual)"
            else:
                ports = self._out.get_ports()
                i = find_port(ports, spec.name, "output")
                self._out.open_port(i, spec.port_name)
                self.name = ports[i]
        except BaseException:
            self._out.delete()  # leave no client behind
            raise
        self._send = self._out.send_message

    def send(self, ev: OutEvent) -> None:
        self._send(ev.midi)

    def send_raw(self, data: list[int] | tuple[int, ...]) -> None:
        self._send(data)

    def close(self) -> None:
        self._out.close_port()
        self._out.delete()
