"""The web page's load on the engine's timing (issue 27): a WebSocket client LISTENing to every value
and every note, connected and disconnected in alternate windows of the same load phase, so that
`python -m latency_bench --web` compares the sender's lateness with and without it, under the same
conditions (same engine, same flood, same minute)."""
from __future__ import annotations

import json
import threading
import time

from liveai.control.addresses import ADDRESSES, PARAMS

EVERYTHING = [p.path for p in PARAMS] + [a.path for a in ADDRESSES.values() if a.topic == "notes" and a.verb == "feedback"] \
    + ["/liveai/player/note"]


class WebLoad:
    """Alternate windows: a page LISTENing to everything (on), none (off); windows() says which was when."""

    def __init__(self, port: int, window_s: float = 3.0) -> None:
        self.port, self.window_s = port, window_s
        self.windows: list[tuple[float, float, bool]] = []  # (start, end, page connected), perf_counter
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webload", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.window_s + 5)

    def _run(self) -> None:
        from websockets.sync.client import connect
        on = True
        while not self._stop.is_set():
            t0 = time.perf_counter()
            end = t0 + self.window_s
            if on:
                with connect(f"ws://127.0.0.1:{self.port}/", max_size=None) as ws:
                    for path in EVERYTHING:
                        ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": path}))
                    while time.perf_counter() < end and not self._stop.is_set():
                        try:
                            ws.recv(timeout=max(0.001, end - time.perf_counter()))
                            self.received += 1
                        except TimeoutError:
                            pass
            else:
                self._stop.wait(self.window_s)
            self.windows.append((t0, time.perf_counter(), on))
            on = not on

    def split(self, times_values: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
        """Values whose time falls in a window with the page (first list) and without it (second);
        a window's first half second is left out (the connection settling or closing)."""
        with_page, without = [], []
        for t, v in times_values:
            for a, b, on in self.windows:
                if a + 0.5 <= t <= b:
                    (with_page if on else without).append(v)
                    break
        return with_page, without
