"""A JACK MIDI test rig (JACK-Client): sends MIDI at given times and records what comes back,
both from JACK's process callback. Used by latency_bench and the JACK sync tests.

Time on the rig is time.perf_counter (CLOCK_MONOTONIC, the engine's clock too), read at the start
of JACK's process callback: an event to send at time t goes out in the first cycle that runs at or
after t (offset 0), and an event received is stamped with the time its cycle ran: what a synth on
JACK hears. Run this process at SCHED_FIFO (latency_bench does) so that the callback gets the GIL
at once. Two JACK clocks were tried and rejected on this kind of machine: the frame counter (the
dummy driver falls behind on a loaded machine: 25,000 frames a wall second at 48 kHz, load 8) and
jack_frames_to_time of the cycle (its DLL wandered +-3 ms over seconds against CLOCK_MONOTONIC).
rtmidi (the engine's side) writes what it sends at offset 0 of the next cycle, so received times
include one period of quantisation (0.67 ms at 32 frames, 48 kHz).
"""
from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from typing import Callable, Iterable


class JackRig:
    def __init__(self, name: str = "rig") -> None:
        import jack  # JACK-Client (the test extra)
        self.jack = jack
        self.client = jack.Client(name, no_start_server=True)
        self.name = self.client.name
        self.sr = self.client.samplerate
        self.period = self.client.blocksize
        self.out = self.client.midi_outports.register("out")
        self.inp = self.client.midi_inports.register("in")
        self._queue: list[tuple[float, int, bytes]] = []  # (time, seq, data)
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self.received: list[tuple[float, bytes]] = []  # (time the cycle ran, data)
        # the gap before the cycle each event in `received` was read in (same index): a stamp is
        # only as good as its cycle was punctual, so a reader can tell the rig's lateness apart
        self.received_gap: list[float] = []
        self.sent: list[tuple[float, float, bytes]] = []  # (due time, time the cycle ran, data)
        self.cycles = 0
        self.max_cycle_gap = 0.0
        self._last_cycle: float | None = None
        import ctypes
        lj = ctypes.CDLL("libjack.so.0")
        lj.jack_get_time.restype = ctypes.c_uint64
        lj.jack_frames_to_time.restype = ctypes.c_uint64
        lj.jack_frames_to_time.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        self._lj = lj
        self._ptr = int(jack._ffi.cast("uintptr_t", self.client._ptr))
        best = None  # jack_get_time (us) - perf_counter (s), read as close together as we can
        for _ in range(50):
            a = time.perf_counter()
            j = lj.jack_get_time()
            b = time.perf_counter()
            if best is None or b - a < best[0]:
                best = (b - a, j / 1e6 - (a + b) / 2)
        self.jack_minus_perf = best[1]
        self.client.set_process_callback(self._process)
        self.client.activate()

    # ------------------------------------------------------------------ sending
    def send_at(self, t: float, data: Iterable[int]) -> None:
        with self._lock:
            heapq.heappush(self._queue, (float(t), next(self._seq), bytes(data)))

    def send_many(self, events: Iterable[tuple[float, Iterable[int]]]) -> None:
        with self._lock:
            for t, data in events:
                heapq.heappush(self._queue, (float(t), next(self._seq), bytes(data)))

    def clear_pending(self) -> None:
        """Drop what is still queued to send (the end of a phase)."""
        with self._lock:
            self._queue.clear()

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def cycle_time(self) -> float:
        """When the current cycle began, on the perf_counter clock (JACK's own record). JACK's clock
        and CLOCK_MONOTONIC run at slightly different rates (NTP slews one of them: ~250 ppm was
        seen here), so the offset between them is re-read on every cycle."""
        a = time.perf_counter()
        j = self._lj.jack_get_time()
        b = time.perf_counter()
        if b - a < 50e-6:
            self.jack_minus_perf = j / 1e6 - (a + b) / 2
        us = self._lj.jack_frames_to_time(self._ptr, self.client.last_frame_time)
        return us / 1e6 - self.jack_minus_perf

    def _process(self, frames: int) -> None:
        now = time.perf_counter()
        self.cycles += 1
        gap = 0.0
        if self._last_cycle is not None:
            gap = now - self._last_cycle
            self.max_cycle_gap = max(self.max_cycle_gap, gap)
        self._last_cycle = now
        self.out.clear_buffer()
        q = self._queue
        with self._lock:
            while q and q[0][0] <= now:
                due, _, data = heapq.heappop(q)
                self.out.write_midi_event(0, data)
                self.sent.append((due, now, data))
        for _off, data in self.inp.incoming_midi_events():
            self.received.append((now, bytes(data)))
            self.received_gap.append(gap)

    # ------------------------------------------------------------------ wiring
    def connect(self, src: str, dst: str) -> None:
        self.client.connect(src, dst)

    def wait_for_port(self, pattern: str, is_input: bool | None = None, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            kw = {"is_midi": True}
            if is_input is not None:
                kw["is_input" if is_input else "is_output"] = True
            ports = [p.name for p in self.client.get_ports(pattern, **kw)]
            if ports:
                return ports[0]
            time.sleep(0.05)
        raise TimeoutError(f"no JACK MIDI port matching {pattern!r} in {timeout} s")

    def close(self) -> None:
        try:
            self.client.deactivate()
        finally:
            self.client.close()


def jack_env() -> dict[str, str]:
    """The environment that points JACK clients (rtmidi, JACK-Client) at our server."""
    return {k: v for k, v in os.environ.items() if k.startswith("JACK_")}
