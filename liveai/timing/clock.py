"""Clocks: one small event-loop interface, a real-time and a simulated implementation.

The engine and the note sender only ever talk to a Clock (now, call_at, call_soon, run_worker),
so the same engine code runs on stage (RealtimeClock, one per thread) and in tests and
`demo --fast` (one SimClock that jumps straight to the next event, deterministic and fast).
"""
from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from typing import Any, Callable

log = logging.getLogger(__name__)


class Timer:
    """A handle to a scheduled callback; cancel() makes it a no-op."""

    __slots__ = ("when", "fn", "args", "cancelled", "prio")

    def __init__(self, when: float, fn: Callable[..., Any], args: tuple, prio: int = 1) -> None:
        self.when = when
        self.prio = prio  # 0: posted work, ahead of timers due at the same instant (not of overdue ones)
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Clock(ABC):
    """An event loop over one time base (seconds, monotonic)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int, Timer]] = []
        self._seq = itertools.count()
        self._stopped = False

    @abstractmethod
    def now(self) -> float: ...

    @abstractmethod
    def run(self) -> None:
        """Run callbacks in time order until stop() is called (or, simulated, nothing is left)."""

    @abstractmethod
    def run_worker(self, fn: Callable[[], Any], on_done: Callable[[Any, BaseException | None], None]) -> None:
        """Run fn away from this loop (real time: a worker thread) and call on_done(result, error)
        back on this loop. Used for model inference so that the loop never waits for it."""

    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> Timer:
        t = Timer(when, fn, args)
        self._push(t)
        return t

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        return self.call_at(self.now() + delay, fn, *args)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> Timer:
        """Run fn on this loop as soon as possible. Safe to call from any thread. It is ordered by
        time with the timers: ahead of timers due at the same instant, but behind those already
        overdue, so a flood of posted work can never starve a due step."""
        t = Timer(self.now(), fn, args, prio=0)
        self._push(t)
        return t

    def stop(self) -> None:
        self._stopped = True
        self._wake()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def _push(self, t: Timer) -> None:
        heapq.heappush(self._heap, (t.when, t.prio, next(self._seq), t))

    def _wake(self) -> None:
        pass

    @staticmethod
    def _call(t: Timer) -> None:
        try:
            t.fn(*t.args)
        except Exception:  # a bad callback must never stop the clock
            log.exception("callback %r failed", getattr(t.fn, "__qualname__", t.fn))


class SimClock(Clock):
    """Simulated time: run() jumps to the next timer at once. Single-threaded and deterministic.

    Worker jobs run inline; simulated_cost(fn) says how much simulated time the job takes (0 by
    default; fault tests raise it to make a model miss its deadline).
    """

    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self._now = start
        self.simulated_cost: Callable[[Callable[[], Any]], float] = lambda fn: 0.0

    def now(self) -> float:
        return self._now

    def run(self, until: float | None = None) -> None:
        self._stopped = False
        while self._heap and not self._stopped:
            when, _, _, t = self._heap[0]
            if until is not None and when > until:
                break
            heapq.heappop(self._heap)
            if t.cancelled:
                continue
            if when > self._now:
                self._now = when
            self._call(t)
        if until is not None and not self._stopped and until > self._now:
            self._now = until

    def run_worker(self, fn: Callable[[], Any], on_done: Callable[[Any, BaseException | None], None]) -> None:
        cost = self.simulated_cost(fn)
        try:
            result, err = fn(), None
        except Exception as e:  # delivered to on_done, like the real worker does
            result, err = None, e
        if cost <= 0:
            on_done(result, err)
        else:
            self.call_at(self._now + cost, on_done, result, err)


class RealtimeClock(Clock):
    """Real time on time.perf_counter (CLOCK_MONOTONIC). Sleeps on a condition until shortly
    before the next timer, then spins the last `spin` seconds for sub-millisecond accuracy
    (measured with a thread sleeping to deadlines, no other thread: sleep-then-spin has p99 0.16 ms
    where plain sleep has 1 ms; `python -m latency_bench --quick` measures the scheduler the same way)."""

    def __init__(self, spin: float = 0.0, name: str = "clock") -> None:
        super().__init__()
        self.spin = spin
        self.name = name
        self._cond = threading.Condition(threading.Lock())
        self._jobs: queue.SimpleQueue | None = None
        self._thread: threading.Thread | None = None

    def now(self) -> float:
        return time.perf_counter()

    def _push(self, t: Timer) -> None:
        with self._cond:
            heapq.heappush(self._heap, (t.when, t.prio, next(self._seq), t))
            if self._heap[0][3] is t:
                self._cond.notify()

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify()

    def run(self) -> None:
        self._stopped = False
        perf = time.perf_counter
        heap = self._heap
        while not self._stopped:
            with self._cond:
                while not self._stopped:
                    if heap:
                        delay = heap[0][0] - perf()
                        if delay <= self.spin:
                            break
                        self._cond.wait(delay - self.spin)
                    else:
                        self._cond.wait()
                if self._stopped:
                    return
                when = heap[0][0]
            while perf() < when:  # the last `spin` seconds: busy-wait, GIL released each round
                time.sleep(0)
            with self._cond:
                if not heap or heap[0][0] > perf():
                    continue
                _, _, _, t = heapq.heappop(heap)
            if not t.cancelled:
                self._call(t)

    def start_thread(self) -> threading.Thread:
        """Run this loop in a daemon thread of its own."""
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()
        return self._thread

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def run_worker(self, fn: Callable[[], Any], on_done: Callable[[Any, BaseException | None], None]) -> None:
        if self._jobs is None:
            self._jobs = queue.SimpleQueue()
            threading.Thread(target=self._worker, name=f"{self.name}-worker", daemon=True).start()
        self._jobs.put((fn, on_done))

    def pending_jobs(self) -> int:
        return self._jobs.qsize() if self._jobs is not None else 0

    def _worker(self) -> None:
        assert self._jobs is not None
        while True:
            fn, on_done = self._jobs.get()
            try:
                result, err = fn(), None
            except Exception as e:
                result, err = None, e
            if on_done is not None:
                self.call_soon(on_done, result, err)
