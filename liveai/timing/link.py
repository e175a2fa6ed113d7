"""Following an Ableton Link session through aalink (the optional `link` extra): tempo, beat
phase (quantum = the meter's beats), start/stop sync, peers."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from liveai.vocab import clamp_tempo

log = logging.getLogger(__name__)


class LinkClock:
    """Follows an Ableton Link session (aalink, asyncio in a thread of its own).

    Every `period` s it reads the session's beat (quantum = `quantum` beats), tempo and play state,
    stamped with perf_counter around the read, and re-anchors the engine's grid on the engine's
    loop: step = beat * 4. With start_stop_sync the transport follows the session's play state;
    without it the engine starts at once, in phase. Link is enabled ~0.5 s after it is created
    (aalink's README: enable about 500 ms after creation), so that a new peer does not take over the session's tempo.
    """

    def __init__(self, engine: Any, bpm: float, quantum: float = 4.0, start_stop_sync: bool = False,
                 period: float = 0.02, enable_delay: float = 0.5) -> None:
        try:
            import aalink  # noqa: F401
        except ImportError:
            raise RuntimeError("--clock link needs aalink: pip install 'liveai[link]'") from None
        self.engine = engine
        self.bpm = bpm
        self.quantum = quantum
        self.start_stop_sync = start_stop_sync
        self.period = period
        self.enable_delay = enable_delay
        self.link: Any = None
        self.peers = 0
        self.updates = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self) -> "LinkClock":
        self.engine.settings.external_clock = True
        return self

    def start(self) -> "LinkClock":
        self._thread = threading.Thread(target=self._run, name="link", daemon=True)
        self._thread.start()
        self._ready.wait(5.0)
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def _run(self) -> None:
        import asyncio
        try:
            asyncio.run(self._main())
        except Exception:
            log.exception("Link thread failed")
            self._ready.set()

    async def _main(self) -> None:
        import asyncio
        import warnings

        import aalink
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            link = aalink.Link(self.bpm)
        link.quantum = self.quantum
        self.link = link
        await asyncio.sleep(self.enable_delay)
        link.enabled = True
        link.start_stop_sync_enabled = self.start_stop_sync
        self._ready.set()
        perf = time.perf_counter
        post = self.engine.clock.call_soon
        while not self._stop.is_set():
            a = perf()
            beat = link.beat
            b = perf()
            if b - a < 0.0005:  # a read that was not interrupted: the pair is exact to < 0.5 ms
                self.updates += 1
                self.peers = max(self.peers, link.num_peers)
                post(self._update, float(link.tempo), float(beat), 0.5 * (a + b), bool(link.playing))
            await asyncio.sleep(self.period)
        link.enabled = False

    def set_tempo(self, bpm: float) -> None:
        """Propose a tempo to the session (from the link thread's side: aalink is thread-safe)."""
        if self.link is not None:
            self.link.tempo = bpm

    def _update(self, tempo: float, beat: float, t: float, playing: bool) -> None:
        eng = self.engine
        want = playing if self.start_stop_sync else True
        tempo = clamp_tempo(tempo)
        step = beat * 4.0
        if want and not eng.running:
            eng.transport.bpm = tempo
            eng.start(t, step=step)
            eng.retime(tempo, step, t)
        elif not want and eng.running:
            eng.stop_transport()
        elif eng.running:
            eng.retime(tempo, step, t)
