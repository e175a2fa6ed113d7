"""OSC over UDP: the control server and the note/feedback output.

The server is one thread on a blocking socket (not python-osc's thread-per-packet server, not its
Dispatcher, which sleeps until bundle timetags): each datagram is parsed with python-osc's parser,
checked against the address table (liveai.osc_api), and its handler is called. Bad packets are
counted and logged, never raised. Replies go to the sender's own address and port.
"""
from __future__ import annotations

import logging
import math
import socket
import threading
import time
from typing import Any, Callable, Iterable

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from liveai.osc_api import ADDRESSES, check_args
from liveai.output import OutEvent, OutputDevice

log = logging.getLogger(__name__)

Handler = Callable[[tuple, tuple[str, int]], Any]


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


class OscServer:
    """Receives control messages on a UDP port and calls the handler registered for each address."""

    def __init__(self, port: int = 9000, host: str = "127.0.0.1", max_rate: float = 5000.0,
                 allow: Iterable[str] | None = None) -> None:
        self.handlers: dict[str, Handler] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.settimeout(0.25)
        self.port = self.sock.getsockname()[1]
        self.max_rate = max_rate
        self.allow = set(allow) if allow else None
        self.received = self.dropped = self.rejected = 0
        self._running = False
        self._thread: threading.Thread | None = None

    def on(self, address: str, handler: Handler) -> None:
        if address not in ADDRESSES:
            raise KeyError(f"{address} is not in the address table")
        self.handlers[address] = handler

    def reply(self, addr: tuple[str, int], address: str, *args: Any) -> None:
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
        budget, last = self.max_rate, time.monotonic()
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
            now = time.monotonic()
            budget = min(self.max_rate, budget + (now - last) * self.max_rate)
            last = now
            if budget < 1:  # a flood: drop rather than starve the note sender
                self.dropped += 1
                continue
            budget -= 1
            self.handle_datagram(data, addr)

    def handle_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received += 1
        if self.allow is not None and addr[0] not in self.allow:
            self.rejected += 1
            return
        try:
            messages = [m.message for m in OscPacket(data).messages]
        except Exception as e:  # python-osc raises several types for junk
            self.dropped += 1
            log.debug("dropped malformed OSC packet from %s: %s", addr, e)
            return
        for msg in messages:
            self._dispatch(msg.address, tuple(msg.params), addr)

    def _dispatch(self, address: str, args: tuple, addr: tuple[str, int]) -> None:
        handler = self.handlers.get(address)
        if handler is None:
            self.dropped += 1
            self.reply(addr, "/liveai/error", f"unknown address {address}"[:200])
            return
        err = check_args(address, args)
        if err:
            self.dropped += 1
            self.reply(addr, "/liveai/error", f"{address}: {err}"[:200])
            return
        try:
            handler(args, addr)
        except ValueError as e:
            self.reply(addr, "/liveai/error", f"{address}: {e}"[:200])
        except Exception as e:
            log.exception("OSC handler for %s failed", address)
            self.reply(addr, "/liveai/error", f"{address}: internal error {type(e).__name__}")


class OscOutput(OutputDevice):
    """Sends every engine note as /liveai/<part>/note ii to each target, at the moment its MIDI goes
    out (the datagram was built at planning time). Nobody listening is fine: UDP fails quietly."""

    name = "osc-out"

    def __init__(self, targets: Iterable[tuple[str, int]]) -> None:
        self.targets = list(targets)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)

    def send(self, ev: OutEvent) -> None:
        if ev.osc is None:
            return
        for t in self.targets:
            try:
                self.sock.sendto(ev.osc, t)
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
