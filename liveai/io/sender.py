"""The MIDI sender in a process of its own (the default; `--sender thread` keeps it in the engine):
ProcessMidiOutput, the engine's side; the child is liveai.io.sendproc (`python -m liveai.io.sendproc`).

The pipe carries fixed records (due time, step id, up to 3 MIDI bytes). A step is handed over
ahead of its time under its id and stays rewritable there until its first message goes out: the
engine's corrections (liveai.engine.unsent) rewrite it in one transaction that the process applies
whole or refuses, and answers on its stdout (liveai.io.duequeue).

Faults cross the process boundary on the child's stderr (issue 29): its JACK watch raises and
clears faults (a synth port gone, the server gone) in its own process, so each is written as a
tagged line that the engine's reader turns back into a fault in the engine's record (the live view's
FAULT line, the web page) and a report (/liveai/error). Any other line of the child goes on to the
engine's stderr as before. A sender process that dies is a fault too: it is started again, and the
synth is reset and told its banks and programs again."""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Callable

from liveai.io.jackwatch import CONNECT_SETTLE_S
from liveai.io.output import WireState, reset_messages
from liveai.io.sendproc import _BEGIN, _END, _FLUSH, _QUIT, _REC, _STEP, FAULT_TAG

log = logging.getLogger(__name__)

REPLY_TIMEOUT_S = 2.0  # a sender process that cannot answer a rewrite in this long is stuck
SENDER_LOOKAHEAD_S = 0.030
RESTART_RETRY_S = 2.0
RESTART_MAX_S = 30.0  # the longest wait between tries while the sender process cannot start


class ProcessMidiOutput:
    """A MIDI output whose port lives in a small sender process of its own (`--sender process`).

    Why: in one Python process the sender thread needs the GIL to send, and any other thread
    holding it (the engine loop, OSC parsing, rtmidi callbacks, the model's numpy glue) delays it;
    on a loaded machine a normal-priority holder can be preempted for tens of milliseconds while a
    real-time sender waits (priority inversion through the GIL; measured by latency_bench). The
    sender process has one Python thread and nothing else to do: the Scheduler hands it each event
    SENDER_LOOKAHEAD_S early (a latency offset, Scheduler.set_latency) with its due time, and it
    sleeps, spins the last 1.5 ms and sends at that time, on SCHED_FIFO where allowed. Immediate
    events (the reactive path, panic) go at once; cancel_pending() drops what is queued there.
    A step handed over with hand() may be rewritten with replace() until it goes out.
    """

    timed = True
    amendable = True  # a step handed over ahead may still be rewritten until it goes out (hand, replace)

    def __init__(self, spec: Any, offset: float = 0.0, lookahead: float = SENDER_LOOKAHEAD_S, rt: bool = True,
                 stats: str | None = None, record: bool = True) -> None:
        import sys
        if record:
            stats = stats or os.environ.get("LIVEAI_SENDER_STATS")  # latency_bench: the sender's lateness record
        self.offset = offset  # latency compensation of this output (s early)
        self.lookahead = lookahead
        args = [sys.executable, "-m", "liveai.io.sendproc", "--api", spec.api, "--port-name", spec.port_name]
        if spec.virtual or spec.name is None:
            args.append("--virtual")
        else:
            args += ["--connect", spec.name]
        if rt and os.environ.get("LIVEAI_SENDER_RT", "1") != "0":
            args.append("--rt")
        if stats:
            args += ["--stats", stats]
        self._args = args
        self.spec = spec
        self.name = "MIDI sender process (starting)"
        self.on_fault: Callable[[str], None] | None = None  # OSC /liveai/error (liveai.app.run)
        self.restarts = 0
        self.lost_writes = 0  # records written while the process was gone (counted, not sent)
        self.state = WireState()  # banks and programs told, for a process started again
        self.fault_key = f"sender:{spec.port_name}"  # the main output and the clock out apart
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._restarting = threading.Lock()  # one restart at a time
        self._ready = False
        self._down = False  # the process died and is being started again: writes are dropped
        self._token = 0
        self._reply = b""
        self._lost_procs: set[int] = set()  # pids whose death was taken up (once each)
        self._child_faults: set[str] = set()  # fault keys the process raised (cleared when it goes)
        self._links: list[tuple[str, str]] = []  # its port's connections, as it last said them
        self._tries = 0
        self._start(self._spawn())

    def _spawn(self, links: list[tuple[str, str]] = ()) -> Any:
        """A new process (outside the lock: a fork must not hold up hand/send); _start swaps it in."""
        import subprocess
        extra = [a for src, dst in links for a in ("--link", src, dst)]
        return subprocess.Popen(self._args + extra, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, bufsize=0)

    def _start(self, proc: Any) -> None:
        self.proc = proc
        self._fd = proc.stdin.fileno()
        self._hear_thread = threading.Thread(target=self._hear, args=(proc,), name="sender-faults", daemon=True)
        self._hear_thread.start()

    def wait_ready(self, timeout: float = 20.0) -> None:
        """The process starts while the engine loads (the model): wait for its port here."""
        if self._ready:
            return
        import select
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().decode().strip() if r else ""
        if not line.startswith("ready "):
            self.proc.kill()
            raise RuntimeError(f"MIDI sender process failed: {line or 'no reply'}")
        self.name = line[6:] + " (sender process)"
        self._ready = True
        proc = self.proc
        if proc.poll() is not None and not self._closing.is_set() and self._claim(proc):
            # it said ready and died before anyone watched for that: taken up here
            threading.Thread(target=self._lost, args=(proc,), name="sender-restart", daemon=True).start()

    def _claim(self, proc: Any) -> bool:
        """True once per process: its death is taken up by one caller only."""
        with self._lock:
            if proc.pid in self._lost_procs:
                return False
            self._lost_procs.add(proc.pid)
            return True

    # -- the child's stderr: its faults, and its text for a person
    def _hear(self, proc: Any) -> None:
        import sys
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            if line.startswith(FAULT_TAG):
                try:
                    self._fault_line(line[len(FAULT_TAG):])
                except Exception:
                    log.exception("a fault from the sender process")
                continue
            try:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
        proc.wait()
        self._forget_child_faults()
        if self._ready and not self._closing.is_set() and proc is self.proc and self._claim(proc):
            self._lost(proc)

    def _fault_line(self, text: str) -> None:
        """One tagged line: "fault KEY MESSAGE", "clear KEY", "report WHY" or "links SRC DST ..."
        (tab-separated)."""
        from liveai.io.faults import faults
        kind, _, rest = text.partition("\t")
        if kind == "fault":
            what, _, message = rest.partition("\t")
            if faults().raise_(what, message):
                self._child_faults.add(what)
        elif kind == "clear":
            what = rest.partition("\t")[0]
            if what in self._child_faults:
                self._child_faults.discard(what)
                faults().clear(what)
        elif kind == "report":
            from liveai.io.jackwatch import current_watch
            w = current_watch()
            if rest.startswith("JACK server") and w is not None and w.members:
                return  # the engine's own watch of the server says that one
            self._tell(rest)
        elif kind == "links":
            ends = rest.split("\t") if rest else []
            self._links = list(zip(ends[::2], ends[1::2]))

    def _forget_child_faults(self) -> None:
        """A process that went can no longer clear what it raised: its faults end with it (a new
        one raises them again if they still hold)."""
        from liveai.io.faults import faults
        for what in list(self._child_faults):
            faults().clear(what)
        self._child_faults.clear()

    def _tell(self, why: str) -> None:
        if self.on_fault is not None:
            try:
                self.on_fault(why)
            except Exception:
                log.exception("reporting the sender process's fault")

    def _lost(self, proc: Any) -> None:
        """The process died under us (killed, crashed): said once, started again until it runs
        (its port's connections made again), the synth reset (a note it began may sound on) and
        told its banks and programs again."""
        from liveai.io.faults import faults
        with self._restarting:
            if self._closing.is_set():
                return
            why = (f"the MIDI sender process stopped (exit {proc.returncode}): {self.name} is silent; starting it "
                   "again (the band and any take go on)")
            log.error(why)
            faults().raise_(self.fault_key, "MIDI sender process gone")
            self._tell(why)
            with self._lock:
                self._down = True
            failures = 0
            while not self._closing.is_set():
                try:
                    new = self._spawn(self._links)
                    with self._lock:
                        if self._closing.is_set():
                            new.kill()
                            break
                        self._ready = False
                        self._start(new)
                        self._reply = b""
                    self.wait_ready(RESTART_RETRY_S * 5)
                    break
                except Exception as e:
                    failures += 1
                    wait = min(RESTART_MAX_S, RESTART_RETRY_S * 2 ** min(failures - 1, 8))
                    if failures == 1 or failures % 10 == 0:  # keep the journal small while it cannot start
                        log.error("the MIDI sender process would not start again (%s, %d tries); trying again in "
                                  "%g s", e, failures, wait)
                    self._closing.wait(wait)
            if self._closing.is_set():
                faults().clear(self.fault_key)
                return
            time.sleep(CONNECT_SETTLE_S)  # JACK drops what is sent in the first periods after a connect
            with self._lock:
                setup = self.state.replay(notes=False)
                recs = [self._rec(-1.0, ev.midi) for ev in reset_messages()] + [self._rec(-1.0, m) for m in setup]
                try:
                    os.write(self._fd, b"".join(recs))
                except OSError:
                    self.lost_writes += 1
                self._down = False
            self.restarts += 1
            faults().clear(self.fault_key)
            log.warning("the MIDI sender process is back on %s (%d connection(s) made again): the synth reset, "
                        "%d bank and program message(s) sent again", self.name, len(self._links), len(setup))

    def _put(self, recs: bytes) -> bool:
        """Write records to the process; while it is gone they are counted and dropped (the
        engine never stops for a dead child: a broken pipe is its death, which _hear handles)."""
        with self._lock:
            if self._down:
                self.lost_writes += 1
                return False
            try:
                os.write(self._fd, recs)
                return True
            except OSError:
                self.lost_writes += 1
                return False

    def _note(self, data: Any) -> None:
        b = data if isinstance(data, (list, tuple)) else list(data)
        if b and (b[0] & 0xF0 == 0xC0 or (b[0] & 0xF0 == 0xB0 and len(b) > 1 and b[1] in (0, 32))):
            self.state.note(list(b))

    @property
    def early(self) -> float:
        """How early the Scheduler must hand this output its events."""
        return self.lookahead + self.offset

    @staticmethod
    def _rec(when: float, data: Any, step: int = 0) -> bytes:
        b = bytes(data)
        return _REC.pack(when, step, len(b), b[:3].ljust(3, b"\0"))

    def _write(self, when: float, data: Any) -> None:
        self._note(data)
        self._put(self._rec(when, data))

    def hand(self, step: int, events: Any, when: float) -> None:
        """A step's events, due at `when`, handed over ahead under their step id (see replace)."""
        recs = b"".join(self._rec(when - self.offset, ev.midi, step) for ev in events)
        if recs:
            self._put(recs)

    def replace(self, steps: list[tuple[int, Any, float]]) -> bool:
        """Rewrite steps handed over before, each (step id, its new events, due time), all or none:
        True if none of them had begun to go out. Waits for the process's answer (a round trip of
        about 0.1 ms; up to its last spin, 1.5 ms, while it waits for a send)."""
        import select
        with self._lock:
            if self._down:
                return False
            self._token = (self._token + 1) & 0xFFFFFFFF
            token = self._token
            recs = [_REC.pack(-1.0, token, _BEGIN, b"\0\0\0")]
            for step, events, when in steps:
                recs.append(_REC.pack(-1.0, step, _STEP, b"\0\0\0"))
                recs += [self._rec(when - self.offset, ev.midi, step) for ev in events]
            recs.append(_REC.pack(-1.0, token, _END, b"\0\0\0"))
            try:
                os.write(self._fd, b"".join(recs))
            except OSError:  # the process is gone (_hear starts it again): nothing was rewritten
                self.lost_writes += 1
                return False
            fd = self.proc.stdout.fileno()
            deadline = time.monotonic() + REPLY_TIMEOUT_S
            while True:
                while b"\n" in self._reply:
                    line, self._reply = self._reply.split(b"\n", 1)
                    word, _, got = line.decode().partition(" ")
                    if got == str(token):
                        return word == "ok"
                left = deadline - time.monotonic()
                r, _, _ = select.select([fd], [], [], max(0.0, left))
                try:
                    data = os.read(fd, 4096) if r else b""
                except OSError:
                    data = b""
                if not data:
                    log.error("%s did not answer a rewrite: the step counts as sent", self.name)
                    return False
                self._reply += data

    def send(self, ev: Any) -> None:
        self._write(-1.0, ev.midi)

    def send_many(self, events: Any) -> None:
        """Events at once in one write: the sender process wakes once for a chord, not per note."""
        recs = []
        for ev in events:
            self._note(ev.midi)
            recs.append(self._rec(-1.0, ev.midi))
        self._put(b"".join(recs))

    def send_at(self, ev: Any, when: float) -> None:
        self._write(when - self.offset, ev.midi)

    def send_raw(self, data: Any) -> None:
        self._write(-1.0, data)

    def send_raw_at(self, data: Any, when: float) -> None:
        self._write(when - self.offset, data)

    def cancel_pending(self) -> None:
        self._put(_REC.pack(-1.0, 0, _FLUSH, b"\0\0\0"))

    def close(self) -> None:
        with self._lock:
            self._closing.set()  # under the lock: a restart that spawns now kills what it made
        try:
            if not self._put(_REC.pack(-1.0, 0, _QUIT, b"\0\0\0")):
                raise BrokenPipeError
            self.proc.wait(5)
        except Exception:
            self.proc.kill()
        self._hear_thread.join(1.0)
        self._forget_child_faults()
