"""Control under a flood (issue 29 item 4): the bounded queue's drops are counted and pushed to
listeners (/liveai/control/dropped), and a real UDP flood of /liveai/config/save at a running
`liveai run` makes few writes and delays neither the next control message nor the sender."""
from __future__ import annotations

import json
import shutil
import socket
import statistics
import time

import pytest

from liveai.control.queue import ControlQueue
from tests.integration.support import osc_datagram


class _Clock:
    def __init__(self) -> None:
        self.soon: list = []

    def now(self) -> float:
        return 0.0

    def call_soon(self, fn, *args) -> None:
        self.soon.append((fn, args))


class _Server:
    def __init__(self) -> None:
        self.sent: list = []

    def reply(self, dest, address, *args) -> None:
        self.sent.append((dest, address, args))

    def error(self, dest, text) -> None:
        self.sent.append((dest, "/liveai/error", (text,)))


class _Q(ControlQueue):
    def __init__(self) -> None:
        self.clock, self.server = _Clock(), _Server()
        self.listeners = {"tempo": {("127.0.0.1", 9)}, "notes": {("127.0.0.1", 9), ("127.0.0.1", 10)}}
        self._init_queue()


def test_drops_are_counted_and_pushed_to_every_listener_once_per_growth():
    q = _Q()
    for i in range(q.MAX_PENDING + 5):
        q.post(("127.0.0.1", 1), "/liveai/tempo", lambda: None)
    assert q.flood_dropped == 5
    q.push_dropped()
    assert sorted(s for s in q.server.sent) == [(("127.0.0.1", 9), "/liveai/control/dropped", (5,)),
                                               (("127.0.0.1", 10), "/liveai/control/dropped", (5,))]
    q.push_dropped()  # nothing new: nothing said
    assert len(q.server.sent) == 2
    q.post(("127.0.0.1", 1), "/liveai/panic", lambda: None)  # panic is never dropped
    assert q.flood_dropped == 5


FLOOD_RATE, FLOOD_S, QUIET_S = 1000, 4.0, 4.0
NOISY_P99_MS = 5.0  # a quiet stretch whose p99 lateness is above this: the machine is too busy to judge


def _p99(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(0.99 * len(xs)))] * 1000 if xs else float("nan")


@pytest.mark.integration
def test_a_udp_flood_of_saves_neither_writes_much_nor_delays_control(tmp_path, free_udp_port):
    """1,000 /liveai/config/save a second for 4 s from a real UDP socket at `liveai run` (a private
    jackd, virtual ports, the sender in a process of its own recording its lateness): at most a few
    writes, the last save of the burst answered, a style change sent right after applies within
    100 ms, and the sender's lateness during the flood compared with a quiet stretch of the run."""
    for tool in ("jackd", "jack_lsp"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install jackd2)")
    from latency_bench.common import JackServer
    from tests.integration.support import EngineProcess, OscPeer
    cfg = tmp_path / "liveai.toml"
    cfg.write_text('osc_out = []\n')
    stats = tmp_path / "sender.json"
    server = JackServer(period=256, prefix="lvfl", log_path=tmp_path / "jackd.log").__enter__()
    env = {"JACK_DEFAULT_SERVER": server.name, "JACK_NO_START_SERVER": "1", "LIVEAI_SENDER_STATS": str(stats)}
    port = free_udp_port()
    eng = EngineProcess("run", "--config", str(cfg), "--midi-api", "jack", "--virtual", "--band", "pop",
                        "--no-realtime", "--generator", "rules", "--osc-port", str(port), "--oscquery-port", "-1",
                        "--tempo", "120", "--idle-bars", "0", "--sender", "process", env=env)
    peer = OscPeer()
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flood.bind(("127.0.0.1", 0))
    try:
        eng.wait_for_line("ready in", 40)
        peer.send(port, "/liveai/listen")
        for n in (60, 64, 67):
            peer.send(port, "/liveai/player/note", n, 90)
        time.sleep(2.5)  # past the start-up (the first plans, the first notes)
        t_q0 = time.monotonic()
        time.sleep(QUIET_S)
        t_q1 = t_f0 = time.monotonic()
        dgram = osc_datagram("/liveai/config/save")
        for i in range(int(FLOOD_RATE * FLOOD_S)):
            due = t_f0 + i / FLOOD_RATE
            while (d := due - time.monotonic()) > 0:
                time.sleep(d)
            flood.sendto(dgram, ("127.0.0.1", port))
        t_f1 = time.monotonic()
        n = len(peer.messages)
        peer.send(port, "/liveai/band/style", "swing")
        peer.send(port, "/liveai/get/band/style")
        got = peer.wait_for(lambda m: m.address == "/liveai/band/style" and m.args[:1] == ("swing",), 2.0, after=n)
        applied_ms = (got.t - t_f1) * 1000
        time.sleep(2.0)  # the last save's write (at most one a second)
        flood.settimeout(0.2)
        saved_at = []
        try:
            while True:
                data = flood.recv(65536)
                if b"/liveai/config/saved" in data:
                    saved_at.append(time.monotonic())
        except socket.timeout:
            pass
    finally:
        flood.close()
        peer.close()
        eng.stop()
        server.__exit__(None, None, None)
    writes = [(t, line) for t, line in eng.lines if "config saved to" in line]
    lat = json.loads(stats.read_text())["lateness"]
    quiet = [x for when, x in lat if t_q0 <= when < t_q1]
    during = [x for when, x in lat if t_f0 <= when < t_f1]
    q99, f99 = _p99(quiet), _p99(during)
    noisy = not quiet or q99 > NOISY_P99_MS
    ratio = "withheld: machine noisy" if noisy else f"{f99 / max(q99, 0.01):.2f}"
    print(f"flood of {int(FLOOD_RATE * FLOOD_S)} saves over {t_f1 - t_f0:.2f} s: {len(writes)} write(s); "
          f"style change applied {applied_ms:.1f} ms after the flood; sender lateness p99 quiet "
          f"{q99:.3f} ms ({len(quiet)} msgs), flood {f99:.3f} ms ({len(during)} msgs), ratio {ratio}; "
          f"median quiet {statistics.median(quiet) * 1000 if quiet else float('nan'):.3f} ms, flood "
          f"{statistics.median(during) * 1000 if during else float('nan'):.3f} ms")
    assert eng.proc.returncode == 0, eng.output[-2000:]
    assert "Traceback" not in eng.output, eng.output[-3000:]
    assert 1 <= len(writes) <= 8, writes
    assert applied_ms < 100, applied_ms
    assert saved_at, "the flood's sender got no /liveai/config/saved"
    assert writes[-1][0] >= t_f1 - 0.05, "the last save of the burst was not written after it"
    assert during, "the sender sent nothing during the flood"
    if not noisy:  # the median, not p99: some 65 messages, and other work shares this machine (one late
        # message measured 44 ms in a run whose median was 0.09 ms); before issue 29 it was seconds
        assert statistics.median(during) * 1000 < 5.0, (q99, f99)
