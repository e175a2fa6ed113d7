"""OSC over UDP: the control server and the note/feedback output.

The server is one thread on a blocking socket (not python-osc's thread-per-packet server, not its
Dispatcher, which sleeps until bundle timetags): each datagram is parsed with python-osc's parser,
checked against the address table (liveai.control.addresses), and its handler is called with the arguments
converted to the table's types. Bad packets are counted and logged, never raised; a bad message gets
/liveai/error back. Replies go to the sender's own address and port, or to the port named by the
message's optional last `port` argument on the sender's host.
"""
from __future__ import annotations

import errno
import logging
import math
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from liveai.io.output import OutEvent, OutputDevice

log = logging.getLogger(__name__)


def _not_pythonosc(record: logging.LogRecord) -> bool:
    """python-osc logs a root-logger WARNING for every odd packet; under a flood of junk that is
    thousands of lines a second written from the OSC thread. OscServer counts drops instead."""
    return "pythonosc" not in record.pathname

Handler = Callable[[tuple, tuple[str, int]], Any]
MAX_BUNDLES = 16  # bundles in one datagram; a 64 KB nest of them costs python-osc ~30 ms to parse
MAX_MESSAGE_BYTES = 2048  # a control message is far shorter; a 64 KB string costs python-osc ~6 ms
MAX_BUNDLE_BYTES = 16384
ERRORS_PER_S = 50.0  # /liveai/error replies a second to one sender
NTP_EPOCH = 2208988800  # seconds from 1900 (OSC timetags) to 1970 (time.time)


def timetag(t: float) -> bytes:
    """An OSC timetag (NTP 64-bit fixed point) for time.time() value t."""
    sec = t + NTP_EPOCH
    return struct.pack(">II", int(sec) & 0xFFFFFFFF, int((sec % 1.0) * 4294967296.0) & 0xFFFFFFFF)


def bundle(datagram: bytes, t: float) -> bytes:
    """One message in a bundle timetagged t (time.time() clock)."""
    return b"#bundle\x00" + timetag(t) + struct.pack(">i", len(datagram)) + datagram


def build(address: str, *args: Any) -> bytes:
    """An OSC message with explicit types: int -> i, float -> f, str -> s (nothing else)."""
    b = OscMessageBuilder(address=address)
    for a in args:
        if isinstance(a, bool):
            b.add_arg(int(a), "i")
        elif isinstance(a, int):
            b.add_arg(a, "i")
        elif isinstance(a, float):
            b.add_arg(a if math.isfinite(a) else 0.0, "f")
        else:
            b.add_arg(str(a), "s")
    return b.build().dgram


def parse_target(text: str) -> tuple[str, int]:
    """'127.0.0.1:9001' -> ('127.0.0.1', 9001), with a clear error."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"OSC target must be HOST:PORT, not {text!r}")
    try:
        p = int(port)
    except ValueError:
        raise ValueError(f"bad port in OSC target {text!r}") from None
    if not 0 < p < 65536:
        raise ValueError(f"bad port in OSC target {text!r}")
    return host, p


def normal_priority_thread() -> None:
    """Put the calling thread back on normal scheduling if it inherited SCHED_FIFO (--realtime).
    What comes in over the network is control, not music: under a flood this thread must compete
    with the rest of the box, never take a CPU from the engine loop or the sender (latency_bench.soak
    measured steps handed over 45 ms late with it on FIFO beside them)."""
    from liveai.timing.realtime import set_thread_priority
    set_thread_priority(0)


@dataclass(frozen=True)
class AddressTable:
    """What a server accepts: each address's spec (its `args`, the last of which may be a reply
    `port`) and the function that checks and converts a message's arguments (raises ValueError)."""

    specs: Mapping[str, Any]
    parse: Callable[[str, tuple], tuple]


class OscServer:
    """Receives control messages on a UDP port and calls the handler registered for each address."""

    def __init__(self, port: int = 9000, host: str = "127.0.0.1", max_rate: float = 5000.0,
                 allow: Iterable[str] | None = None, table: "AddressTable | None" = None) -> None:
        """table: the application's addresses and their argument checks (liveai.control.addresses
        passes its own); io/ sits below control/ and knows no address. Without one, every address
        may be bound and its arguments reach the handler as sent."""
        self.table = table
        self.handlers: dict[str, Handler] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:  # no SO_REUSEADDR/SO_REUSEPORT: on UDP they let a second engine share the port silently
            self.sock.bind((host, port))
        except OSError as e:
            self.sock.close()
            if e.errno == errno.EADDRINUSE:
                raise RuntimeError(f"OSC port {port} on {host} is already in use (another liveai running?); "
                                   "stop it, or choose another port with --osc-port") from None
            raise RuntimeError(f"cannot listen for OSC on {host}:{port}: {e.strerror or e}") from None
        self.sock.settimeout(0.25)
        self.port = self.sock.getsockname()[1]
        self.max_rate = max_rate
        self.allow = set(allow) if allow else None
        self.received = self.dropped = self.rejected = 0
        self.named_ports: dict[str, int] = {}  # host -> the port it last asked answers on
        # senders that are not UDP peers (a WebSocket client, liveai.control.web): their replies
        # are handed to this function with the built message instead of sent
        self.routes: dict[tuple[str, int], Callable[[bytes], None]] = {}
        self._warned = float("-inf")  # when a malformed packet was last logged at WARNING
        self._errors: dict[tuple[str, int], tuple[float, float]] = {}  # sender -> (error replies left, when)
        if _not_pythonosc not in logging.getLogger().filters:
            logging.getLogger().addFilter(_not_pythonosc)
        self._running = False
        self._thread: threading.Thread | None = None

    def on(self, address: str, handler: Handler) -> None:
        if self.table is not None and address not in self.table.specs:
            raise KeyError(f"{address} is not in the address table")
        self.handlers[address] = handler

    def reply(self, addr: tuple[str, int], address: str, *args: Any) -> None:
        route = self.routes.get(addr)
        if route is not None:
            route(build(address, *args))
            return
        try:
            self.sock.sendto(build(address, *args), addr)
        except OSError as e:
            log.debug("reply to %s failed: %s", addr, e)

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="osc-in", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join(1.0)
        self.sock.close()

    def _loop(self) -> None:
        normal_priority_thread()
        budget, last = self.max_rate, time.monotonic()
        share = self.max_rate / 2
        senders: dict[tuple[str, int], tuple[float, float]] = {}
        while self._running:
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                if self._running:
                    log.exception("OSC socket error")
                    time.sleep(0.01)
                continue
            if self.allow is not None and addr[0] not in self.allow:  # before the budget: a stranger's
                self.rejected += 1  # flood must not use up what the allowed senders get
                continue
            now = time.monotonic()
            budget = min(self.max_rate, budget + (now - last) * self.max_rate)
            last = now
            # One sender gets at most half the budget, so that a flood from one (a looping patch, a
            # fuzzer) leaves the others answered; the dict is bounded against spoofed sources.
            own, seen = senders.get(addr, (share, now))
            own = min(share, own + (now - seen) * share)
            if budget < 1 or own < 1:  # a flood: drop rather than starve the note sender
                self.dropped += 1
                senders[addr] = (own, now)
                continue
            budget -= 1
            if len(senders) > 256:
                senders.clear()
            senders[addr] = (own - 1, now)
            self.handle_datagram(data, addr)

    def handle_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received += 1
        if self.allow is not None and addr[0] not in self.allow:
            self.rejected += 1
            return
        try:
            if data.count(b"#bundle\0") > MAX_BUNDLES:  # python-osc parses nesting in quadratic time
                raise ValueError("too many nested bundles")
            if len(data) > (MAX_BUNDLE_BYTES if data.startswith(b"#bundle") else MAX_MESSAGE_BYTES):
                raise ValueError(f"{len(data)} bytes is too long")  # python-osc reads strings a byte at a time
            messages = [m.message for m in OscPacket(data).messages]
        except Exception as e:  # python-osc raises several types for junk
            self.dropped += 1
            now = time.monotonic()
            if now - self._warned > 10.0:  # logged, but at most one line in 10 s at WARNING
                self._warned = now
                log.warning("dropped malformed OSC packet from %s (%s); %d dropped so far", addr, e, self.dropped)
            else:
                log.debug("dropped malformed OSC packet from %s: %s", addr, e)
            return
        for msg in messages:
            self._dispatch(msg.address, tuple(msg.params), addr)

    def error(self, addr: tuple[str, int], text: str) -> None:
        """/liveai/error to the sender, and to the port its host last named, if that differs. At most
        ERRORS_PER_S a second to one sender: a flood of junk gets counted, not answered one by one
        (each answer costs the OSC thread a build and a send, and a spoofed sender would aim them)."""
        now = time.monotonic()
        tokens, seen = self._errors.get(addr, (ERRORS_PER_S, now))
        tokens = min(ERRORS_PER_S, tokens + (now - seen) * ERRORS_PER_S)
        if len(self._errors) > 256:
            self._errors.clear()
        self._errors[addr] = (tokens - 1 if tokens >= 1 else tokens, now)
        if tokens < 1:
            return
        self.reply(addr, "/liveai/error", text[:200])
        port = self.named_ports.get(addr[0])
        if port is not None and port != addr[1]:
            self.reply((addr[0], port), "/liveai/error", text[:200])

    def _dispatch(self, address: str, args: tuple, addr: tuple[str, int]) -> None:
        handler = self.handlers.get(address)
        if handler is None:
            self.dropped += 1
            self.error(addr, f"unknown address {address}")
            return
        try:
            values = self.table.parse(address, args) if self.table is not None else tuple(args)
        except ValueError as e:
            self.dropped += 1
            self.error(addr, f"{address}: {e}")
            return
        spec = self.table.specs[address] if self.table is not None else None
        dest = addr
        if spec is not None and spec.args and spec.args[-1].name == "port" and len(values) == len(spec.args):
            dest = (addr[0], values[-1])  # answer on the named port of the sender's host
            self.named_ports[addr[0]] = values[-1]
            values = values[:-1]
        try:
            handler(values, dest)
        except ValueError as e:
            self.error(addr, f"{address}: {e}")
        except Exception as e:
            log.exception("OSC handler for %s failed", address)
            self.error(addr, f"{address}: internal error {type(e).__name__}")


class OscOutput(OutputDevice):
    """Sends every engine note as /liveai/<part>/note ii to each target (--osc-out) and to each
    notes listener (the datagram is built on the first send of that note and kept). Plain, each
    goes out as its MIDI does. With bundle_latency (seconds) > 0 the Scheduler hands each note over
    that much early (plus `offset`, --latency osc) and it goes in a bundle timetagged with its due
    time (less `offset`), so a synth that honours timetags (SuperCollider) plays it on the grid,
    whatever the sender's or the network's jitter; a reactive note, due at once, goes plain. Nobody
    listening is fine: UDP fails quietly."""

    name = "osc-out"

    def __init__(self, targets: Iterable[tuple[str, int]], bundle_latency: float = 0.0) -> None:
        self.targets = list(targets)
        self.listeners: tuple[tuple[str, int], ...] = ()  # replaced whole (another thread reads it)
        self.bundle_latency = bundle_latency
        self.offset = 0.0  # latency compensation (s): the receiver's own delay, taken off the timetag
        self.timed = bundle_latency > 0  # the Scheduler hands it due times (send_at)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)

    @property
    def early(self) -> float:
        """How early the Scheduler must hand this output its notes (with bundles)."""
        return self.bundle_latency + self.offset if self.timed else self.offset

    def set_listeners(self, dests: Iterable[tuple[str, int]]) -> None:
        self.listeners = tuple(d for d in dict.fromkeys(dests) if d not in self.targets)

    def cancel_pending(self) -> None:
        """Nothing waits here: a bundle sent early is the receiver's (the Scheduler asks every timed output)."""

    def send(self, ev: OutEvent) -> None:
        self._out(ev, None)

    def send_at(self, ev: OutEvent, due: float | None) -> None:
        """A note due at `due` (the engine's clock, time.perf_counter on stage): timetagged with it."""
        self._out(ev, due)

    def _out(self, ev: OutEvent, due: float | None) -> None:
        dests = (*self.targets, *self.listeners)
        if not dests:
            return  # nobody to send to: the datagram is not even built
        osc = ev.osc
        if osc is None:
            return
        data = osc
        if due is not None and self.timed:
            data = bundle(osc, due - self.offset + (time.time() - time.perf_counter()))
        for t in dests:
            try:
                self.sock.sendto(data, t)
            except OSError:
                pass

    def send_message(self, address: str, *args: Any) -> None:
        data = build(address, *args)
        for t in self.targets:
            try:
                self.sock.sendto(data, t)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()
