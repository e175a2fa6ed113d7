"""The JACK server watched: its death is said at once, and liveai rejoins it when it returns.

python-rtmidi gives no shutdown callback: when jackd stops, libjack prints 'read fail' and our
ports silently go nowhere. Worse, a send to a dead client fills rtmidi's 16 KB ring buffer (about
2300 messages) and then spins forever in sched_yield, holding the GIL (measured, rtmidi 1.5.8).

How the server is watched: jack2's request socket, /dev/shm/jack_NAME_UID_0, is connected to and
closed WATCH_S apart on a thread of its own (16 us a check, measured; jack2's own server check does
the same and the server logs nothing for it). Refused or missing: the server is gone. Its inode
changed: it was restarted between two checks. Nothing here runs on the sender's or engine's path.

What a dead server leaves behind (measured, libjack 1.9.21 bundled with python-rtmidi):
- closing a dead client takes 0.5 s; once any client has been opened since the death, libjack has
  freed the dead clients' state, and closing one then is a segfault. So a dead rtmidi object is
  buried (bury): never called again, never freed; its few KB are the price of a restart.
- sending to a dead rtmidi object only writes rtmidi's own ring buffer: safe, as long as the sends
  stop before it fills; members stop theirs as soon as the death is seen.

Members (our MIDI ports) are told server_lost() and, when the server is back, server_back(): they
reopen their ports with the same names. The connections of our ports are noted every SNAPSHOT_S
through a passive client of the system's libjack (ctypes; never activated, so it costs nothing per
period) and made again on return, each as soon as its other end is back, for RECONNECT_FOR_S.
Without the system's libjack the ports still return; only their connections are not restored.

A port at the other end of one of those connections can also go while the server stays up (the
synth's or DAW's client closed; `--midi-out NAME` whose program quit). Every tick, the other end of
each noted connection is looked up by name in the passive client's view of the graph (shared memory,
no request to the server): a missing one is a fault (log line, /liveai/error through the reporters,
liveai.io.faults), its connection is kept and made again as soon as a port of that name is back,
for as long as it takes; then the member is told (reconnected: reset, programs, sounding notes)
and the fault clears. Members may offer peer_lost(port) (an input releases its held notes).

One cohesive thing, so one module: the server's watch, the passive client's view of the graph and
the connections noted through it are one thread's state; the rejoin and a port's return both act
on the same noted connections.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import socket
import threading
import time
from typing import Callable, Protocol

log = logging.getLogger(__name__)

WATCH_S = 0.2
SNAPSHOT_S = 1.0
RECONNECT_FOR_S = 60.0
CONNECT_SETTLE_S = 0.1  # as liveai.box.hotplug: a connection takes effect a few periods later
SOCKET_DIR = "/dev/shm"  # jack2's server directory on Linux
_buried: list[object] = []


def server_name() -> str:
    return os.environ.get("JACK_DEFAULT_SERVER") or "default"


def socket_path(name: str | None = None) -> str:
    return os.path.join(SOCKET_DIR, f"jack_{name or server_name()}_{os.getuid()}_0")


def server_id(path: str) -> int | None:
    """The server's identity (its socket's inode) if it accepts connections, else None."""
    try:
        ino = os.stat(path).st_ino
    except OSError:
        return None
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.2)
    try:
        s.connect(path)
    except OSError:
        return None
    finally:
        s.close()
    return ino


def bury(obj: object) -> None:
    """Keep a dead JACK client's rtmidi object for ever, untouched (see the module's docstring):
    its destructor would close a client that libjack may already have freed."""
    if obj is None:
        return
    _buried.append(obj)
    try:  # a reference of its own, so not even the interpreter's exit frees it
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
    except Exception:
        pass


class JackMember(Protocol):
    def jack_ports(self) -> list[tuple[str, bool]]:
        """(full name, is an output) of each of our ports."""

    def server_lost(self) -> None:
        """Stop using the port at once (bury it); never raise."""

    def server_back(self) -> None:
        """Open the port again with the same name; may raise (the watch tries again)."""

    def reconnected(self, port: str) -> None:
        """One of our ports' connections (to port) was made again: tell the other end our state."""

    # optional: peer_lost(port) -- the other end of one of our connections went (server up)


class _Graph:
    """A passive client of the system's libjack: our ports' connections read and made again."""

    def __init__(self) -> None:
        self.lib = _libjack()
        self.client = None
        if self.lib is not None:
            status = ctypes.c_int(0)
            self.client = self.lib.jack_client_open(b"liveai-watch", 1, ctypes.byref(status))  # JackNoStartServer

    def connections(self, port: str) -> list[str]:
        if not self.client:
            return []
        p = self.lib.jack_port_by_name(self.client, port.encode())
        if not p:
            return []
        names = self.lib.jack_port_get_all_connections(self.client, p)
        if not names:
            return []
        out, i = [], 0
        arr = ctypes.cast(names, ctypes.POINTER(ctypes.c_char_p))
        while arr[i]:
            out.append(arr[i].decode(errors="replace"))
            i += 1
        self.lib.jack_free(names)
        return out

    def exists(self, port: str) -> bool:
        """Whether a port of that name is registered now (True when we cannot tell)."""
        if not self.client:
            return True
        return bool(self.lib.jack_port_by_name(self.client, port.encode()))

    def connect(self, src: str, dst: str) -> bool:
        """True when connected (or it already was); False while a port is missing."""
        if not self.client:
            return False
        if not (self.lib.jack_port_by_name(self.client, src.encode())
                and self.lib.jack_port_by_name(self.client, dst.encode())):
            return False
        return self.lib.jack_connect(self.client, src.encode(), dst.encode()) in (0, 17)  # 17: EEXIST

    def close(self) -> None:
        if self.client:
            self.lib.jack_client_close(self.client)
        self.client = None

    def abandon(self) -> None:
        """The server died: the client is never touched again (closing it could crash)."""
        self.client = None


_lib: ctypes.CDLL | None | bool = False


def _libjack() -> ctypes.CDLL | None:
    global _lib
    if _lib is False:
        _lib = None
        name = ctypes.util.find_library("jack")
        try:
            lib = ctypes.CDLL(name) if name else None
        except OSError:
            lib = None
        if lib is not None:
            vp, cp = ctypes.c_void_p, ctypes.c_char_p
            lib.jack_client_open.restype, lib.jack_client_open.argtypes = vp, [cp, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
            lib.jack_port_by_name.restype, lib.jack_port_by_name.argtypes = vp, [vp, cp]
            lib.jack_port_get_all_connections.restype = vp
            lib.jack_port_get_all_connections.argtypes = [vp, vp]
            lib.jack_free.argtypes = [vp]
            lib.jack_connect.argtypes = [vp, cp, cp]
            lib.jack_client_close.argtypes = [vp]
            _lib = lib
        else:
            log.info("the system's libjack is not there: after a JACK restart our ports return, "
                     "their connections do not")
    return _lib or None


class JackWatch:
    """One per process (jack_watch()): the server's life, our ports' connections, the rejoin."""

    def __init__(self, name: str | None = None, watch_s: float = WATCH_S) -> None:
        self.name = name or server_name()
        self.path = socket_path(self.name)
        self.watch_s = watch_s
        self.members: list[JackMember] = []
        self.reporters: list[Callable[[str], None]] = []  # told of a fault once (OSC /liveai/error)
        self.link_listeners: list[Callable[[set[tuple[str, str]]], None]] = []  # told the noted connections as they change
        self.generation = 0  # +1 each time the server is lost: a port opened before is dead
        self.up = True
        self.losses = self.rejoins = 0
        self._id: int | None = None
        self._misses = 0
        self._graph: _Graph | None = None
        self._links: set[tuple[str, str]] = set()  # (source, destination) made by or to our ports
        self._pending: set[tuple[str, str]] = set()
        self._pending_until = 0.0
        self._gone: set[tuple[str, str]] = set()  # connections whose other end went (server up)
        self._snap_at = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, member: JackMember, peers: list[tuple[str, str]] = ()) -> None:
        """Watch a member; peers: connections it made as it opened (restored like the rest)."""
        with self._lock:
            if not self.members and self._thread is None:
                self._id = server_id(self.path)
                if self._id is None:
                    log.info("JACK server %s: no socket at %s (not jack2?); not watched", self.name, self.path)
                    return
                self._thread = threading.Thread(target=self._run, name="jack-watch", daemon=True)
                self._thread.start()
            self.members.append(member)
            self._links.update(peers)

    def restore(self, links: list[tuple[str, str]]) -> None:
        """Connections to make again (a sender process started after a crash), as the ones of a
        rejoin: each as soon as both its ends are there, for RECONNECT_FOR_S."""
        with self._lock:
            self._links.update(links)
            self._pending.update(links)
            self._pending_until = time.monotonic() + RECONNECT_FOR_S

    def restored(self, links: list[tuple[str, str]]) -> bool:
        """True once none of these is waiting to be made."""
        with self._lock:
            return not (set(links) & self._pending)

    def remove(self, member: JackMember) -> None:
        """Stop watching a member; the last one out (with the server up) ends the watch, so a
        later port in this process watches the server of its own time (a test process opens ports
        on several servers one after another)."""
        with self._lock:
            if member in self.members:
                self.members.remove(member)
            last = not self.members and self.up
        if last:
            _drop(self)

    def _report(self, why: str) -> None:
        for fn in list(self.reporters):
            try:
                fn(why)
            except Exception:
                log.exception("reporting the JACK server's fault")

    def _run(self) -> None:
        while not self._stop.wait(self.watch_s):
            try:
                self.check()
            except Exception:
                log.exception("JACK watch")

    def check(self) -> None:
        """One look at the server (the watch thread's tick)."""
        now = self.server_now()
        self._misses = self._misses + 1 if now is None else 0
        if self.up and now != self._id and (now is not None or self._misses >= 2 or not os.path.exists(self.path)):
            self._lost(now)  # a refused connection counts when seen twice (not one busy moment)
        if not self.up and now is not None:
            self._back(now)
        if self.up:
            self._keep_links()

    def server_now(self) -> int | None:
        return server_id(self.path)

    def _lost(self, now: int | None) -> None:
        self.up, self.generation, self.losses = False, self.generation + 1, self.losses + 1
        if self._graph is not None:
            self._graph.abandon()
            self._graph = None
        from liveai.io.faults import faults
        for src, dst in self._gone:  # the server's own fault says it now; restored on its return
            faults().clear(f"port:{self._other(src, dst)}")
        self._links |= self._gone
        self._gone = set()
        with self._lock:
            members = list(self.members)
        for m in members:
            try:
                m.server_lost()
            except Exception:
                log.exception("JACK watch: a port would not let go")
        why = (f"JACK server {self.name} stopped: {len(members)} MIDI port(s) gone; waiting for it to "
               "return (the band and any take go on)" if now is None else
               f"JACK server {self.name} was restarted: {len(members)} MIDI port(s) gone; rejoining")
        log.error(why)
        self._report(why)
        from liveai.io.faults import faults
        faults().raise_(f"jack:{self.name}", f"JACK server {self.name} gone")  # the live view's FAULT line

    def _back(self, now: int) -> None:
        with self._lock:
            members = list(self.members)
        for m in members:
            m.server_back()  # an error leaves us down: tried again next tick (server_back is idempotent)
        self.up, self._id = True, now
        self.rejoins += 1
        from liveai.io.faults import faults
        faults().clear(f"jack:{self.name}")
        self._pending = set(self._links)
        self._pending_until = time.monotonic() + RECONNECT_FOR_S
        self._keep_links()
        log.warning("JACK server %s is back: %d MIDI port(s) open again, %d of %d connection(s) restored "
                    "(the rest as their ports return)", self.name, len(members),
                    len(self._links) - len(self._pending), len(self._links))

    def _keep_links(self) -> None:
        """Note our ports' connections (every SNAPSHOT_S); make pending ones whose ends are back."""
        t = time.monotonic()
        if self._graph is None:
            self._graph = _Graph()
        self._watch_peers()
        if self._gone:
            self._rejoin_peers()
        with self._lock:
            tickers = [m for m in self.members if hasattr(m, "watch_tick")]
        for m in tickers:  # members that follow ports of their own (hot-plug) look each tick too
            try:
                m.watch_tick(self._graph.exists)
            except Exception:
                log.exception("JACK watch: a member's tick")
        if self._pending:
            made = []
            for src, dst in sorted(self._pending):
                if self._graph.connect(src, dst):
                    self._pending.discard((src, dst))
                    made.append((src, dst))
                    log.info("JACK: connected %s to %s again", src, dst)
            if made:
                time.sleep(CONNECT_SETTLE_S)  # JACK drops what is sent in the first periods after a connect
                with self._lock:
                    members = list(self.members)
                for src, dst in made:
                    for m in members:
                        if any(p == src for p, _ in m.jack_ports()):
                            try:
                                m.reconnected(dst)
                            except Exception:
                                log.exception("JACK watch: restoring a port's state")
            if t > self._pending_until and self._pending:
                log.warning("JACK: gave up restoring %s", ", ".join(f"{a} -> {b}" for a, b in sorted(self._pending)))
                self._pending.clear()
        if t >= self._snap_at:
            self._snap_at = t + SNAPSHOT_S
            with self._lock:
                members = list(self.members)
            links = {(a, b) for a, b in self._links if (a, b) in self._pending}
            for m in members:
                for port, is_out in m.jack_ports():
                    for other in self._graph.connections(port):
                        links.add((port, other) if is_out else (other, port))
            old, self._links = self._links, links
            if old - links:  # one that went between the look above and this one
                self._links |= old - links
                self._watch_peers()
                self._links &= links | self._pending
            if self._links != old:
                for fn in list(self.link_listeners):
                    try:
                        fn(set(self._links))
                    except Exception:
                        log.exception("JACK watch: telling the connections")

    def _ours(self) -> set[str]:
        with self._lock:
            members = list(self.members)
        return {p for m in members for p, _ in m.jack_ports()}

    def _other(self, src: str, dst: str, ours: set[str] | None = None) -> str:
        """The end of a connection that is not our port."""
        ours = self._ours() if ours is None else ours
        return src if dst in ours else dst

    def _watch_peers(self) -> None:
        """A noted connection whose other end is no longer registered: that port went while the
        server stayed up. Said at once, and kept to be made again when the port returns."""
        ours = self._ours()
        for src, dst in sorted(self._links - self._pending):
            other = self._other(src, dst, ours)
            if other in ours or self._graph.exists(other):
                continue
            self._links.discard((src, dst))
            self._gone.add((src, dst))
            mine = src if other == dst else dst
            for m in self._members_of(mine):
                lost = getattr(m, "peer_lost", None)
                if lost is not None:
                    try:
                        lost(other)
                    except Exception:
                        log.exception("JACK watch: a port's peer went")
            why = (f"MIDI port {other} went (its program closed or crashed): {mine} is connected to "
                   "nothing; reconnecting when a port of that name returns (the band and any take go on)")
            from liveai.io.faults import faults
            if faults().raise_(f"port:{other}", f"MIDI port {other} gone"):
                log.error(why)
                self._report(why)

    def _rejoin_peers(self) -> None:
        """Make each gone connection again whose port is back; its member restores the other
        end's state (reset, programs, the notes that should be sounding) and the fault clears."""
        made = [(s, d) for s, d in sorted(self._gone) if self._graph.connect(s, d)]
        if not made:
            return
        time.sleep(CONNECT_SETTLE_S)  # JACK drops what is sent in the first periods after a connect
        ours = self._ours()
        from liveai.io.faults import faults
        for src, dst in made:
            self._gone.discard((src, dst))
            self._links.add((src, dst))
            other = self._other(src, dst, ours)
            mine = src if other == dst else dst
            for m in self._members_of(mine):
                try:
                    m.reconnected(other)
                except Exception:
                    log.exception("JACK watch: restoring a port's state")
            if not any(other in link for link in self._gone):
                faults().clear(f"port:{other}")
                log.warning("MIDI port %s is back: %s connected to it again, its state restored", other, mine)

    def _members_of(self, port: str) -> list[JackMember]:
        with self._lock:
            members = list(self.members)
        return [m for m in members if any(p == port for p, _ in m.jack_ports())]

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)
        self._thread = None
        if self._graph is not None:
            if self.up:
                self._graph.close()
            self._graph = None


_watch: JackWatch | None = None
_watch_lock = threading.Lock()


def jack_watch() -> JackWatch:
    """The process's watch of its JACK server (created on first use; its thread starts with the
    first member)."""
    global _watch
    with _watch_lock:
        if _watch is None:
            _watch = JackWatch()
        return _watch


def current_watch() -> JackWatch | None:
    """The process's watch if it has one (never starts one)."""
    return _watch


def _drop(w: JackWatch) -> None:
    """End a watch no port needs (its thread and its passive client) and forget it."""
    global _watch
    with _watch_lock:
        if _watch is w:
            _watch = None
    w.close()


def release(obj: object, generation: int) -> None:
    """Close an rtmidi JACK object opened at `generation`: buried if the server died since."""
    w = _watch
    if w is not None and (generation != w.generation or not w.up):
        bury(obj)
        return
    try:
        obj.close_port()
        obj.delete()
    except Exception as e:
        log.debug("closing rtmidi port: %s", e)
