"""The sender process itself (`python -m liveai.io.sendproc`, started by liveai.io.sender's
ProcessMidiOutput): it reads the engine's records on stdin and sends each at its time from a
DueQueue, applies rewrites whole or refuses them (answered on stdout), ends every note it began
when the engine vanishes, and tells the engine its faults as tagged stderr lines.

The wire format lives here, the one thing both sides share: fixed records (due time, step id, up
to 3 MIDI bytes), with commands in the length byte."""
from __future__ import annotations

import logging
import os
import struct
import time
from collections import deque
from typing import Callable

from liveai.io.duequeue import DueQueue

log = logging.getLogger(__name__)

_REC = struct.Struct("<dIB3s")  # due time (perf_counter s; < 0: at once), step id, length, up to 3 MIDI bytes
# Commands in the length byte. A rewrite is one write: BEGIN(token), then for each step STEP(id)
# and its new records, then END(token); the process answers "ok TOKEN" or "late TOKEN" on stdout.
_FLUSH, _QUIT, _BEGIN, _STEP, _END = 0xFF, 0xFE, 0xFD, 0xFC, 0xFB
SENDER_SPIN_S = 0.0015
SENDER_NAP_S = 50e-6  # not real-time: the last SENDER_SPIN_S in naps this long, then a short spin
STATS_MAX = 200_000  # lateness records a sender process keeps for latency_bench (about 20 MB at most)
LINKS_WAIT_S = 2.0  # a process started again waits this long for its old connections before it is ready
FAULT_TAG = "\x1eliveai-fault\t"  # a stderr line of the child that carries a fault, not text for a person


class Inbox:
    """The engine's records, applied as they arrive: a send at once, a send queued for its time,
    a flush, a rewrite of steps (answered "ok TOKEN" or "late TOKEN"), quit. Records may arrive
    split across reads; a rewrite is applied whole at its END."""

    def __init__(self, queue: DueQueue, send: Callable[[list[int]], None], answer: Callable[[str], None],
                 now: Callable[[], float] | None = None) -> None:
        self.queue, self.send, self.answer, self.now = queue, send, answer, now
        self.running = True
        self._buf = b""
        self._rewrite: dict[int, list[tuple[float, list[int]]]] | None = None

    def feed(self, data: bytes) -> None:
        buf = self._buf + data
        size = _REC.size
        whole = len(buf) - len(buf) % size
        for off in range(0, whole, size):
            when, step, n, b = _REC.unpack_from(buf, off)
            if n == _FLUSH:
                self.queue.clear()
            elif n == _QUIT:
                self.running = False
                break
            elif n == _BEGIN:
                self._rewrite = {}
            elif n == _STEP and self._rewrite is not None:
                self._rewrite[step] = []
            elif n == _END and self._rewrite is not None:
                ok = self.queue.replace(self._rewrite, self.now() if self.now is not None else None)
                self._rewrite = None
                self.answer(f"{'ok' if ok else 'late'} {step}")
            elif n > 3:
                log.warning("sender process: unknown record %#x dropped", n)
            elif self._rewrite is not None:
                self._rewrite.setdefault(step, []).append((when, list(b[:n])))
            elif when < 0:
                self.send(list(b[:n]))
            else:
                self.queue.push(when, step, list(b[:n]))
        self._buf = buf[whole:]


def _say(text: str) -> None:
    """One line to the engine on stderr, in one write (a log record of another thread cannot cut
    it); an engine that is gone is no reason to stop: the notes still have to be ended."""
    try:
        os.write(2, (text.replace("\n", " ") + "\n").encode())
    except OSError:
        pass


def _tell_faults_to_engine(port: str) -> None:
    """The child's faults, and its port's connections, go to the engine as tagged stderr lines
    (ProcessMidiOutput._hear): a process started again after a crash makes those connections again."""
    from liveai.io.faults import faults
    from liveai.io.jackwatch import jack_watch

    def line(text: str) -> None:
        _say(FAULT_TAG + text)

    faults().listeners.append(lambda f: line(f"clear\t{f.what}" if f.cleared else f"fault\t{f.what}\t{f.message}"))
    w = jack_watch()
    w.reporters.append(lambda why: line(f"report\t{why}"))
    w.link_listeners.append(lambda links: line("links" + "".join(f"\t{a}\t{b}" for a, b in sorted(links)
                                                                if port in (a, b))))


def sender_main(argv: list[str] | None = None) -> int:
    """The sender process: read (due, bytes) records on stdin, send each at its time."""
    import argparse
    import json
    import select
    import sys

    from liveai.io.midi import MidiOutput, PortSpec
    ap = argparse.ArgumentParser(prog="python -m liveai.io.sendproc")
    ap.add_argument("--api", default="alsa")
    ap.add_argument("--port-name", default="out")
    ap.add_argument("--virtual", action="store_true")
    ap.add_argument("--connect")
    ap.add_argument("--rt", action="store_true")
    ap.add_argument("--stats")
    ap.add_argument("--link", nargs=2, action="append", default=[], metavar=("SRC", "DST"),
                    help="a connection of our port to make again (a process started after a crash)")
    a = ap.parse_args(argv)
    import signal
    for sig in (signal.SIGINT, signal.SIGTERM):  # the engine ends us (QUIT, or its end of the pipe):
        signal.signal(sig, signal.SIG_IGN)       # a Ctrl-C at the terminal is the engine's to handle
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from liveai.timing import realtime
    before = realtime.thread_ids()
    try:
        # a MidiOutput: under JACK the server's watch stops its sends when the server dies (a dead
        # rtmidi client would spin at our real-time priority once its buffer filled) and reopens it
        out = MidiOutput(PortSpec(a.api, a.connect, a.virtual or a.connect is None, a.port_name))
        name = out.name
    except Exception as e:
        print(f"error {e}".replace("\n", " "), flush=True)
        return 2
    if a.api == "jack":  # the JACK client thread rtmidi started: punctual if JACK is not real-time
        realtime.short_slice(realtime.thread_ids() - before)
        _tell_faults_to_engine(out.jack_port)
        if a.link:  # made before we say ready: the engine's reset and programs must reach them
            from liveai.io.jackwatch import CONNECT_SETTLE_S, jack_watch
            links = [tuple(x) for x in a.link]
            w = jack_watch()
            w.restore(links)
            deadline = time.monotonic() + LINKS_WAIT_S
            while not w.restored(links) and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(CONNECT_SETTLE_S)
    if a.rt:  # the sender's priority, below the audio server (liveai.timing.realtime)
        realtime.set_thread_priority(realtime.plan(midi_api=a.api).sender, "sender process")
    else:
        realtime.set_thread_priority(0)
    spin = SENDER_SPIN_S
    nap = 0.0  # real-time: sleep, then spin the last 1.5 ms (nothing but JACK preempts it)
    sleep = time.sleep
    if not realtime.is_realtime():  # normal scheduling: a 1.5 ms spin outlives its slice and is preempted
        nap = SENDER_NAP_S  # (issue 16: sender p99 2.1-2.5 ms spinning, 0.6-0.8 ms napping, load 5.5)
        realtime.punctual_normal_thread()
    import gc
    gc.collect()
    gc.freeze()
    raw = out.send_raw
    held: set[tuple[int, int]] = set()  # (channel, note) sounding on the wire, from what went out

    def send(msg: list[int]) -> None:
        raw(msg)
        if len(msg) == 3 and msg[0] & 0xE0 == 0x80:
            if msg[0] & 0xF0 == 0x90 and msg[2] > 0:
                held.add((msg[0] & 0x0F, msg[1]))
            else:
                held.discard((msg[0] & 0x0F, msg[1]))
    perf = time.perf_counter
    fd = sys.stdin.fileno()
    q = DueQueue()
    # (due, lateness) of each message, kept only when asked for (latency_bench) and bounded: on a
    # stage that runs for hours, a record of every message sent would be a slow leak (~0.5 MB/min).
    lateness: deque[tuple[float, float]] | None = deque(maxlen=STATS_MAX) if a.stats else None
    print(f"ready {name}", flush=True)
    inbox = Inbox(q, send, lambda line: os.write(1, line.encode() + b"\n"), perf)
    while inbox.running:
        nxt = q.due()
        timeout = None if nxt is None else max(0.0, nxt - perf() - spin)
        r, _, _ = select.select([fd], [], [], timeout)
        if r:
            data = os.read(fd, 65536)
            if not data:
                break
            inbox.feed(data)
            continue
        if nxt is None:
            continue
        # within `spin` of the next send: wait for it, still reading the pipe (a rewrite of this
        # very step may come now: a chord struck just before the beat)
        interrupted = False
        while (left := nxt - perf()) > 0:
            if select.select([fd], [], [], 0)[0]:
                interrupted = True
                break
            if nap and left > 2 * nap:  # normal scheduling: short sleeps keep the thread eligible
                sleep(nap)
        if interrupted:
            continue
        now = perf()
        while (due := q.due()) is not None and due <= now:
            due, msg = q.pop()
            send(msg)
            if lateness is not None:
                lateness.append((due, perf() - due))
    for msg in q.remaining():  # note-offs still queued go out: nothing is left hanging
        if msg and msg[0] & 0xF0 in (0x80, 0xB0):
            send(msg)
    vanished = held and inbox.running  # the engine was killed or crashed: end every note it began
    n_held = len(held)
    for ch, note in sorted(held):
        raw([0x80 | ch, note, 0])
    if vanished:  # said after the notes end (the engine's end of stderr may be gone too)
        _say(f"liveai sender: the engine is gone; ended {n_held} notes it left sounding")
    if a.stats:
        with open(a.stats, "w") as f:
            json.dump({"lateness": list(lateness or ())}, f)
    time.sleep(0.05)  # let JACK/ALSA deliver the last messages
    out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(sender_main())

