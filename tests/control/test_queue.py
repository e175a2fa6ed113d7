"""Control under a flood (issue 29 item 4): the bounded queue's drops are counted and pushed to
listeners (/liveai/control/dropped), and a real UDP flood of /liveai/config/save at a running
`liveai run` makes few writes and delays neither the next control message nor the sender."""
from __future__ import annotations

import json
import os
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
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def call_soon(self, fn, *args) -> None:
        self.soon.append((fn, args))

    def call_at(self, when, fn, *args) -> None:
        self.soon.append((fn, args))

    def run(self) -> None:
        while self.soon:
            fn, args = self.soon.pop(0)
            fn(*args)


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


def test_the_last_of_a_burst_over_the_limits_is_held_and_run_not_dropped():
    """Issue 29: a sender's last query over the query rate, and a fader's last value over the
    queue's bound, are held (the newest per key) and run once the limits let them through."""
    q = _Q()
    ran: list = []
    q._tokens = 0.0
    for i in range(5):  # over the rate: the newest is held, the older ones replaced (dropped)
        q.post(("127.0.0.1", 1), "/liveai/status", ran.append, ("status", i), coalesce=("status", 1), query=True)
    assert q.flood_dropped == 4 and not ran
    for i in range(q.MAX_PENDING):
        q.post(("127.0.0.1", 1), "/liveai/tempo", lambda: None)
    for v in (100, 120, 140):  # the queue is full: the fader's newest value waits its turn
        q.post(("127.0.0.1", 1), "/liveai/band/energy", ran.append, ("energy", v), coalesce=("set", "energy"))
    q.clock.t = 1.0  # the query tokens refill
    q.clock.run()
    assert ("status", 4) in ran and ("energy", 140) in ran
    assert not [r for r in ran if r in (("status", 3), ("energy", 120))]


FLOOD_RATE, FLOOD_S, QUIET_S = 1000, 4.0, 4.0
TEMPO, BAND, ENERGY = 200, "rock", 1.0  # its full variation: some 100 messages a second, so a window's
# p99 is not its one latest note
MIN_MSGS = 150  # per window, so that p99 is the 2nd or 3rd latest message, not one note
NOISY_P99_MS = 5.0  # a quiet stretch whose p99 lateness is above this: the machine is too busy to judge
FLOOR_MS = 1.0  # p99s under a millisecond are the machine's noise, not the control path's cost
FLOOD_OVER_QUIET = 1.2  # the timing issue's same-run ratio (latency_bench/verdicts.py)
PROBE_STALL_MS = 5.0  # a probe thread that wakes this late in a window: the machine stalled there

def _cpu_s(pid: int) -> float:
    """A process's CPU seconds so far (user + system), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _p99(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(0.99 * len(xs)))] * 1000 if xs else float("nan")


def flood_verdict(quiet: list[float], during: list[float], probe_quiet: list[float],
                  probe_flood: list[float]) -> tuple[str, str]:
    """(PASS, FAIL or WITHHELD, the figure) of the sender lateness during the flood: p99 in the
    flood over p99 in the quiet window just before it <= FLOOD_OVER_QUIET, both floored at the
    run's own timer noise, max(FLOOR_MS, 1.5 x the stall probe's p99): a chord sent 1.5 ms late
    because the shared machine woke the sender late is not the control path's cost (as
    latency_bench/verdicts.py floors the sender's p99 at 1.5 x cyclictest's). A miss is withheld,
    not failed, when the quiet window is itself noisy (its p99 over NOISY_P99_MS) or the probe
    woke PROBE_STALL_MS late in either window: the machine stalled there, whatever liveai did."""
    q99, f99 = _p99(quiet), _p99(during)
    floor = max(FLOOR_MS, 1.5 * _p99(probe_quiet + probe_flood))
    ratio = max(f99, floor) / max(q99, floor)
    worst_q, worst_f = (max(p, default=0.0) * 1000 for p in (probe_quiet, probe_flood))
    figure = (f"{ratio:.2f} (p99 flood {f99:.3f} ms over quiet {q99:.3f} ms, floored at {floor:.2f} ms; "
              f"{len(during)} and {len(quiet)} msgs; probe's worst wake-up {worst_f:.1f} and {worst_q:.1f} ms)")
    if ratio <= FLOOD_OVER_QUIET:
        return "PASS", figure
    noisy = q99 > NOISY_P99_MS or max(worst_q, worst_f) > PROBE_STALL_MS
    return ("WITHHELD" if noisy else "FAIL"), figure


def test_the_flood_verdict_is_a_same_run_ratio_withheld_when_the_machine_stalls():
    ms = lambda *xs: [x / 1000 for x in xs] * 50  # noqa: E731
    calm = ms(0.1, 0.2)
    assert flood_verdict(ms(0.1, 0.4), ms(0.2, 0.9), calm, calm)[0] == "PASS"  # both under the floor
    assert flood_verdict(ms(1.0, 2.0), ms(1.0, 2.3), calm, calm)[0] == "PASS"
    assert flood_verdict(ms(1.0, 2.0), ms(1.0, 9.0), calm, calm)[0] == "FAIL"
    assert flood_verdict(ms(1.0, 2.0), ms(1.0, 9.0), calm, calm + [0.025])[0] == "WITHHELD"  # one stall
    assert flood_verdict(ms(1.0, 8.0), ms(1.0, 30.0), calm, calm)[0] == "WITHHELD"  # the control is noisy
    assert flood_verdict(ms(0.1, 2.0), ms(0.1, 3.5), ms(1.0, 2.5), ms(1.0, 2.5))[0] == "PASS"  # the run's noise


@pytest.mark.integration
def test_a_udp_flood_of_saves_neither_writes_much_nor_delays_control(tmp_path, free_udp_port):
    """1,000 /liveai/config/save a second for 4 s from a real UDP socket at `liveai run` (a private
    jackd, virtual ports, the sender in a process of its own recording its lateness): at most a few
    writes, the last save of the burst answered, a style change sent right after applies within
    100 ms, and the sender's lateness during the flood within FLOOD_OVER_QUIET of a quiet stretch
    of the same run (flood_verdict)."""
    for tool in ("jackd", "jack_lsp"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install jackd2)")
    from latency_bench.common import JackServer
    from tests.integration.support import EngineProcess, OscPeer, StallProbe
    cfg = tmp_path / "liveai.toml"
    cfg.write_text('osc_out = []\n')
    stats = tmp_path / "sender.json"
    server = JackServer(period=256, prefix="lvfl", log_path=tmp_path / "jackd.log").__enter__()
    env = {"JACK_DEFAULT_SERVER": server.name, "JACK_NO_START_SERVER": "1", "LIVEAI_SENDER_STATS": str(stats)}
    port = free_udp_port()
    eng = EngineProcess("run", "--config", str(cfg), "--midi-api", "jack", "--virtual", "--band", BAND,
                        "--no-realtime", "--generator", "rules", "--osc-port", str(port), "--oscquery-port", "-1",
                        "--tempo", str(TEMPO), "--idle-bars", "0", "--sender", "process", env=env)
    probe = StallProbe()
    peer = OscPeer()
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flood.bind(("127.0.0.1", 0))
    try:
        eng.wait_for_line("ready in", 40)
        peer.send(port, "/liveai/listen")
        peer.send(port, "/liveai/energy", ENERGY)
        for n in (60, 64, 67):
            peer.send(port, "/liveai/player/note", n, 90)
        time.sleep(2.5)  # past the start-up (the first plans, the first notes)
        t_q0, c_q0 = time.monotonic(), _cpu_s(eng.proc.pid)
        time.sleep(QUIET_S)
        t_q1 = t_f0 = time.monotonic()
        c_f0 = _cpu_s(eng.proc.pid)
        dgram = osc_datagram("/liveai/config/save")
        for i in range(int(FLOOD_RATE * FLOOD_S)):
            due = t_f0 + i / FLOOD_RATE
            while (d := due - time.monotonic()) > 0:
                time.sleep(d)
            flood.sendto(dgram, ("127.0.0.1", port))
        t_f1, c_f1 = time.monotonic(), _cpu_s(eng.proc.pid)
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
        probe.stop()
    probe_q, probe_f = probe.late(t_q0, t_q1), probe.late(t_f0, t_f1)
    writes = [(t, line) for t, line in eng.lines if "config saved to" in line]
    lat = json.loads(stats.read_text())["lateness"]
    quiet = [x for when, x in lat if t_q0 <= when < t_q1]
    during = [x for when, x in lat if t_f0 <= when < t_f1]
    outcome, figure = flood_verdict(quiet, during, probe_q, probe_f)
    print(f"flood of {int(FLOOD_RATE * FLOOD_S)} saves over {t_f1 - t_f0:.2f} s: {len(writes)} write(s); "
          f"style change applied {applied_ms:.1f} ms after the flood; sender lateness {outcome} "
          f"flood/quiet {figure}; raw p99 ratio {_p99(during) / max(_p99(quiet), 1e-3):.2f}; median quiet "
          f"{statistics.median(quiet) * 1000 if quiet else float('nan'):.3f} ms, flood "
          f"{statistics.median(during) * 1000 if during else float('nan'):.3f} ms; engine process CPU quiet "
          f"{(c_f0 - c_q0) / (t_q1 - t_q0) * 100:.0f}%, flood {(c_f1 - c_f0) / (t_f1 - t_f0) * 100:.0f}% of a core")
    assert eng.proc.returncode == 0, eng.output[-2000:]
    assert "Traceback" not in eng.output, eng.output[-3000:]
    assert 1 <= len(writes) <= 8, writes
    assert applied_ms < 100, applied_ms
    assert saved_at, "the flood's sender got no /liveai/config/saved"
    assert writes[-1][0] >= t_f1 - 0.05, "the last save of the burst was not written after it"
    assert len(quiet) >= MIN_MSGS and len(during) >= MIN_MSGS, (len(quiet), len(during))
    assert outcome != "FAIL", figure
