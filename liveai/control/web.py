"""The web page and OSCQuery's WebSocket: see and steer the band from a phone (issue 27).

One thread with its own asyncio loop (`websockets`, the `web` extra) serves on one port: GET / the
page (web.html, nothing from the internet); any namespace path or ?HOST_INFO: OSCQuery JSON
(liveai.control.oscquery) with EXTENSIONS LISTEN and WS_PORT; /takes, /takes/NAME.mid and .svg
(drawn on demand) from the takes folder only; and the WebSocket of the OSCQuery proposal: text
{"COMMAND": "LISTEN" | "IGNORE", "DATA": PATH} in, LISTENed values out as binary OSC as they
change (parameters) or go out (notes); binary OSC in goes through the UDP server's own dispatch
(the address table checks it), rate-limited per connection.

The engine loop never waits for this thread: on each poll it drops the latest value of each
LISTENed parameter into a dict and wakes the loop with call_soon_threadsafe; the band's notes
come as a notes listener on a loopback UDP port, the player's through Engine.on_player.

Security: loopback only by default (the Host header must name loopback: no DNS rebinding);
another --web-host needs the random token in the printed URL on every request; the WebSocket
accepts only the page's own Origin; a peer off loopback without a token is refused.
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from liveai.control.addresses import ADDRESSES, PARAMS, PREFIX
from liveai.control.oscquery import answer, host_info
from liveai.control.webguard import WebGuard, loopback
from liveai.io.faults import faults
from liveai.io.osc import build

log = logging.getLogger(__name__)

RATE = 60.0  # control messages a second from one page (a slider dragged sends ~60)
BURST = 120.0
MAX_CLIENTS = 16
NOTE_QUEUE = 512  # notes waiting for one client; beyond, the oldest go
PARAM_BY_PATH = {p.path: p.name for p in PARAMS}
NOTE_PATHS = {a.path for a in ADDRESSES.values() if a.topic == "notes" and a.verb == "feedback"}
PLAYER = f"{PREFIX}/player/note"  # streamed too: the player's notes as the engine hears them
# what is down on stage now (liveai.io.faults: a dead synth, the audio server, a MIDI port, the
# sender process), one line, "" when all is well: the page's own stream (OSC listeners are told
# each fault on /liveai/error as it happens)
FAULT = f"{PREFIX}/fault"


def missing_extra() -> str | None:
    """A one-line reason the web page cannot be served, or None."""
    try:
        import websockets  # noqa: F401
    except ImportError:
        return "--web needs the websockets package: pip install 'liveai[web]' (or run with --no-web)"
    return None


def page() -> bytes:
    return resources.files("liveai.control").joinpath("web.html").read_bytes()


class Client:
    """One WebSocket: what it LISTENs to, its rate budget and its outgoing queue."""

    def __init__(self, ws: Any, n: int) -> None:
        self.ws, self.addr = ws, ("ws", n)
        self.listening: set[str] = set()
        self.tokens, self.seen = BURST, time.monotonic()
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(NOTE_QUEUE)

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.seen) * RATE)
        self.seen = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def put(self, data: bytes) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(data)


class WebServer(WebGuard):
    """The page, OSCQuery over HTTP and its WebSocket, for one session's Control."""

    def __init__(self, control: Any, host: str = "127.0.0.1", port: int = 9003, token: str | None = None) -> None:
        self.control, self.host, self.want_port = control, host, port
        self.token = token if token is not None else (None if loopback(host) else secrets.token_urlsafe(16))
        self.takes = Path(control.recordings)
        self.port = 0
        self.clients: dict[tuple[str, int], Client] = {}
        self.listened: frozenset[str] = frozenset()  # parameter names; replaced whole (the engine reads it)
        self.sent: dict[str, tuple] = {}  # engine side: the last value published per parameter
        self.dropped = 0  # control messages over a page's rate
        self.refused = 0  # requests and WebSockets refused (token, origin, host)
        self._pending: dict[str, bytes] = {}  # path -> latest OSC message, not yet sent
        self._played: list[bytes] = []  # the player's notes not yet sent (bounded)
        self.player_listened = False
        self._lock = threading.Lock()
        self._wake = False
        self._n = 0
        self._notes_sock: socket.socket | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ the engine's side
    def watch(self) -> None:
        """On the engine loop (Control.poll): publish the LISTENed parameters that changed."""
        for name in self.listened:
            v = self.control.value(name)
            if self.sent.get(name) != v:
                self.sent[name] = v
                self.publish(f"{PREFIX}/{name}", build(f"{PREFIX}/{name}", *v))

    def player(self, msg: Any, t: float) -> None:
        """On the engine loop (Engine.on_player): the player's notes, for the page's roll."""
        if self.player_listened and msg.type in ("note_on", "note_off"):
            self.publish(PLAYER, build(PLAYER, msg.note, msg.velocity if msg.type == "note_on" else 0), keep=True)

    def fault_changed(self, _fault: Any = None) -> None:
        """On a watcher's thread (liveai.io.faults listener): the page's fault line, now."""
        self.publish(FAULT, build(FAULT, fault_text()))

    def publish(self, path: str, data: bytes, keep: bool = False) -> None:
        """Never blocks: the latest message per path replaces an unsent one (keep: queued, for
        notes); the loop is woken once."""
        with self._lock:
            if keep:
                if len(self._played) < NOTE_QUEUE:
                    self._played.append(data)
            else:
                self._pending[path] = data
            if self._wake or self.loop is None:
                return
            self._wake = True
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop closed
            pass

    def _drain(self) -> None:
        with self._lock:
            pending, self._pending, self._wake = self._pending, {}, False
            played, self._played = self._played, []
        for data in played:
            for c in list(self.clients.values()):
                if PLAYER in c.listening:
                    c.put(data)
        for path, data in pending.items():
            for c in list(self.clients.values()):
                if path in c.listening:
                    c.put(data)

    # ------------------------------------------------------------------ HTTP
    def process_request(self, conn: Any, request: Any) -> Any:
        peer = conn.remote_address[0] if conn.remote_address else ""
        why = self.check(request, peer)
        if why is not None:
            self.refused += 1
            return self._json(conn, why[0], {"error": why[1]})
        if request.headers.get("Upgrade", "").lower() == "websocket":
            if len(self.clients) >= MAX_CLIENTS:
                return self._json(conn, 503, {"error": "too many pages open"})
            return None  # the WebSocket handshake goes on
        parts = urlsplit(request.path)
        path = unquote(parts.path)
        query = "&".join(f"{k}={v}" if v else k for k, v in parse_qsl(parts.query, keep_blank_values=True)
                         if k != "token")
        if path in ("/", "/index.html") and not query and ("text/html" in request.headers.get("Accept", "")
                                                           or path == "/index.html"):
            return self._response(conn, 200, page(), "text/html; charset=utf-8",
                                  {"Content-Security-Policy": "default-src 'self' 'unsafe-inline'; "
                                   "connect-src 'self' ws: wss:; img-src 'self' data:"})
        if path == "/takes" or path == "/takes/":
            return self._json(conn, 200, self.take_list())
        if path.startswith("/takes/"):
            return self._take(conn, path[len("/takes/"):])
        status, body = answer(path + ("?" + query if query else ""), self.host_info, self.control.snapshot)
        if status == 204:
            return self._response(conn, 204, b"", "application/json")
        return self._json(conn, status, body)

    def host_info(self) -> dict:
        info = host_info("liveai", self.host, self.control.server.port, True)
        info["WS_PORT"] = self.port
        return info

    # ------------------------------------------------------------------ the WebSocket
    async def handler(self, ws: Any) -> None:
        self._n += 1
        c = Client(ws, self._n)
        self.clients[c.addr] = c
        srv = self.control.server
        loop = asyncio.get_running_loop()
        srv.routes[c.addr] = lambda data: loop.call_soon_threadsafe(c.put, data)
        sender = asyncio.create_task(self._send(c))
        try:
            async for msg in ws:
                if isinstance(msg, str):
                    self._command(c, msg)
                elif not c.allow():
                    self.dropped += 1
                else:
                    srv.handle_datagram(bytes(msg), c.addr)
        except Exception as e:  # a closed or broken connection
            log.debug("web client %s: %s", c.addr, e)
        finally:
            sender.cancel()
            srv.routes.pop(c.addr, None)
            self.clients.pop(c.addr, None)
            self._relisten()

    async def _send(self, c: Client) -> None:
        while True:
            data = await c.queue.get()
            await c.ws.send(data)

    def _command(self, c: Client, text: str) -> None:
        try:
            msg = json.loads(text)
            cmd, path = str(msg.get("COMMAND", "")).upper(), str(msg.get("DATA", ""))
        except (ValueError, AttributeError):
            return
        if cmd not in ("LISTEN", "IGNORE") or (path not in PARAM_BY_PATH and path not in NOTE_PATHS
                                                and path not in (PLAYER, FAULT)):
            return
        if cmd == "IGNORE":
            c.listening.discard(path)
        elif len(c.listening) < 256:
            c.listening.add(path)
            if path in PARAM_BY_PATH:  # the value now (a plain read, as OSCQuery's VALUE)
                try:
                    c.put(build(path, *self.control.value(PARAM_BY_PATH[path])))
                except Exception:
                    pass
            elif path in NOTE_PATHS:
                self._listen_notes()
            elif path == FAULT:
                c.put(build(FAULT, fault_text()))
        self._relisten()

    def _relisten(self) -> None:
        self.listened = frozenset(PARAM_BY_PATH[p] for c in self.clients.values() for p in c.listening
                                  if p in PARAM_BY_PATH)
        self.sent = {k: v for k, v in self.sent.items() if k in self.listened}
        self.player_listened = any(PLAYER in c.listening for c in self.clients.values())

    def _listen_notes(self) -> None:
        """The first note LISTEN: become a notes listener on a loopback UDP port."""
        if self._notes_sock is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        self._notes_sock = sock
        dest = sock.getsockname()
        self.loop.add_reader(sock.fileno(), self._read_notes)
        ctl = self.control
        ctl.clock.call_soon(lambda: ctl.listen(dest, ("notes",)))

    def _read_notes(self) -> None:
        for _ in range(256):
            try:
                data = self._notes_sock.recv(2048)
            except (BlockingIOError, OSError):
                return
            if data.startswith(b"#bundle"):
                data = data[20:]  # one message per bundle (OscOutput.send)
            path = data[:data.find(b"\0")].decode("ascii", "replace")
            for c in self.clients.values():
                if path in c.listening:
                    c.put(data)

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="web", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError(f"cannot serve the web page on {self.host}:{self.want_port}: {self._error}")
        self.control.watchers.append(self.watch)
        self.control.engine.on_player.append(self.player)
        faults().listeners.append(self.fault_changed)
        if self.control.oscquery is not None:
            self.control.oscquery.ws_port = self.port
        log.info("web page on %s", self.url())

    def _run(self) -> None:
        from liveai.io.osc import normal_priority_thread
        from websockets.asyncio.server import serve
        normal_priority_thread()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop

        async def main() -> None:
            try:
                self._server = await serve(self.handler, self.host, self.want_port, process_request=self.process_request,
                                           max_size=4096, max_queue=32, compression=None, server_header="liveai")
            except OSError as e:
                self._error = e
                self._ready.set()
                return
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._server.wait_closed()
        try:
            loop.run_until_complete(main())
        finally:
            self._ready.set()
            loop.close()

    def stop(self) -> None:
        if self.watch in self.control.watchers:
            self.control.watchers.remove(self.watch)
        if self.player in self.control.engine.on_player:
            self.control.engine.on_player.remove(self.player)
        if self.fault_changed in faults().listeners:
            faults().listeners.remove(self.fault_changed)
        if self.loop is not None and self._server is not None and not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(self._server.close)
            except RuntimeError:
                pass
        if self._thread is not None:
            self._thread.join(2.0)
        if self._notes_sock is not None:
            self._notes_sock.close()


def fault_text() -> str:
    """What is down now, for the page: each fault's message, ";"-separated ("" when none)."""
    return "; ".join(f.message for f in faults().current())


def attach_web(control: Any, host: str = "127.0.0.1", port: int = 9003) -> WebServer:
    """Serve the page for this Control (raises RuntimeError with one line if it cannot)."""
    why = missing_extra()
    if why:
        raise RuntimeError(why)
    web = WebServer(control, host, port)
    web.start()
    control.session.closers.append(web.stop)
    return web
