"""The live view: one status area in the terminal, redrawn in place, showing what the band thinks.

Bar and beat (and, for a demo, bars played of the total), tempo and what it follows, key, the chord
now and the planned next one, which parts sound, the fallback and late-step counters, the ports.

It never touches the sender's path: a thread of its own asks the engine's loop for a snapshot
(Engine.snapshot, a new dict each time) at most REFRESH_HZ times a second and draws the latest one.
It is on only when stdout is a terminal; log lines written to the same terminal go above the area.
"""
from __future__ import annotations

import io
import logging
import sys
import threading
from typing import Any, Callable, TextIO

REFRESH_HZ = 10.0
PART_ORDER = ("bass", "tenor", "alto", "melody")


def _dash(s: object) -> str:
    return str(s) if s not in (None, "") else "-"


def render_lines(snap: dict[str, Any], ports: dict[str, str] | None = None, total_bars: int | None = None,
                 width: int = 100) -> list[str]:
    """The status area's lines for one snapshot (a pure function: tests call it directly)."""
    ports = ports or {}
    if snap.get("running"):
        beats = str(snap.get("meter", "4/4")).split("/")[0]
        bar = f"bar {snap.get('bar', 0)}" + (f" of {total_bars}" if total_bars else "")
        pos = f"{bar}  beat {snap.get('beat', 0)}/{beats}"
    else:
        pos = "waiting for the first note" if not snap.get("steps") else "stopped (waiting for the next note)"
    follow = {"player": "follows the player", "clock": f"follows the {snap.get('clock', 'external')} clock"}.get(
        str(snap.get("follow")), "internal clock")
    tempo = f"{float(snap.get('tempo', 0.0)):.1f} BPM ({follow})"
    key = _dash(snap.get("key"))
    chord = f"chord {_dash(snap.get('chord'))}  next {_dash(snap.get('next_chord'))}"
    if snap.get("corrections"):  # the plan shown as next, changed by the melody: so many times
        chord += f" ({snap['corrections']} corrected)"
    playing = {str(v).split(".")[0] for v in snap.get("playing", ())}  # "comp.2" sounds: comp does
    parts = list(snap.get("parts") or PART_ORDER)
    part_s = "  ".join(f"{p} {'*' if p in playing else '.'}" for p in parts)
    counters = (f"steps {snap.get('steps', 0)}  fallback {snap.get('fallback_steps', 0)}  "
                f"late {snap.get('late_steps', 0)}  errors {snap.get('errors', 0)}")
    lines = [f"liveai  {pos}   {tempo}   mode {snap.get('mode', '')}",
             f"key {key}   {chord}",
             f"parts  {part_s}",
             counters]
    if ports:
        lines.append("   ".join(f"{k} {v}" for k, v in ports.items()))
    from liveai.io.faults import faults  # what is down now (issue 29): said until it comes back
    fault = snap.get("fault") or faults().line()
    if fault:
        lines.append(str(fault))
    return [ln[:width] for ln in lines]


class _AboveArea(io.TextIOBase):
    """A stream for log handlers: each write erases the status area, writes the text, and lets
    the next refresh draw the area again below it."""

    def __init__(self, view: "LiveView") -> None:
        self.view = view

    def write(self, s: str) -> int:
        self.view.write_above(s)
        return len(s)

    def flush(self) -> None:
        self.view.out.flush()


class LiveView:
    """Draws render_lines() in place on `out` from snapshots taken on the engine's loop."""

    def __init__(self, grab: Callable[[Callable[[], None]], Any], snapshot: Callable[[], dict[str, Any]],
                 out: TextIO = sys.stdout, ports: dict[str, str] | None = None, total_bars: int | None = None,
                 hz: float = REFRESH_HZ, parts: tuple[str, ...] = (), extra: dict[str, Any] | None = None) -> None:
        self.grab, self.snapshot = grab, snapshot  # grab(fn): run fn on the engine's loop
        self.out, self.ports, self.total_bars, self.parts = out, ports or {}, total_bars, parts
        self.extra = dict(extra or {})  # static fields for the snapshot (the clock source's name)
        self.period = 1.0 / min(hz, REFRESH_HZ)
        self.latest: dict[str, Any] | None = None
        self.frames = 0
        self._drawn = 0  # lines of the area now on screen
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._swapped: list[tuple[logging.StreamHandler, Any]] = []

    @staticmethod
    def wanted(show: bool | None, default: bool, out: TextIO = sys.stdout) -> bool:
        """On when asked (or by default) and only when stdout is a terminal."""
        on = default if show is None else show
        return bool(on) and hasattr(out, "isatty") and out.isatty()

    def _take(self) -> None:  # on the engine's loop
        snap = {**self.extra, **self.snapshot()}
        if self.parts:
            snap["parts"] = self.parts
        self.latest = snap

    def start(self) -> "LiveView":
        for h in logging.getLogger().handlers:  # log lines go above the area, not through it
            if isinstance(h, logging.StreamHandler) and getattr(h.stream, "isatty", lambda: False)():
                self._swapped.append((h, h.stream))
                h.setStream(_AboveArea(self))
        self._thread = threading.Thread(target=self._run, name="live-view", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        # Threads inherit the scheduling class of the thread that starts them: under --realtime that
        # is SCHED_FIFO, and a real-time view writing to a terminal ten times a second competes with
        # the music for nothing. The view is the box's business, never the band's: normal priority.
        from liveai.timing.realtime import set_thread_priority
        set_thread_priority(0, "live view")
        while not self._stop.wait(self.period):
            try:
                self.grab(self._take)
                if self.latest is not None:
                    self.draw(self.latest)
            except Exception:  # the view must never take the music with it
                logging.getLogger(__name__).debug("live view", exc_info=True)

    def draw(self, snap: dict[str, Any]) -> None:
        lines = render_lines(snap, self.ports, self.total_bars)
        with self._lock:
            buf = [f"\x1b[{self._drawn}F"] if self._drawn else []  # to the area's first line
            buf += [f"\x1b[2K{ln}\n" for ln in lines]
            if self._drawn > len(lines):
                buf.append("\x1b[J")
            self._drawn = len(lines)
            self.out.write("".join(buf))
            self.out.flush()
            self.frames += 1

    def write_above(self, s: str) -> None:
        with self._lock:
            if self._drawn:
                self.out.write(f"\x1b[{self._drawn}F\x1b[J")
                self._drawn = 0
            self.out.write(s)
            self.out.flush()

    def stop(self) -> None:
        """Stop refreshing; the last state stays on screen, and logging goes back to its stream."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
        for h, stream in self._swapped:
            h.setStream(stream)
        self._swapped.clear()
