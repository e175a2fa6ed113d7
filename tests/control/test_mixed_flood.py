"""A mixed control flood at `liveai run` (issue 29 point 4): 25,000 messages a second from one
real UDP socket for FLOOD_S, band changes, saves, status queries and energy interleaved. Far over
the server's limit (2,500 a second per sender), so most is dropped and counted
(/liveai/control/dropped); but the newest of each latest-wins address is kept and handled as the
flood pauses, so the band's last change lands within 100 ms of the flood's end, the last status
query and the last save are answered, and the saved config holds the final band.

The 100 ms is a timing figure on a shared machine: a miss while the stall probe (a 1 ms sleep loop
in a process of its own) woke late around the flood is WITHHELD, not failed; the last change must
land, and the answers and the saved band must be right, whatever the machine does."""
from __future__ import annotations

import shutil
import socket
import time

import pytest

from tests.integration.support import osc_datagram, parse_datagram

RATE, FLOOD_S = 25_000, 2.0
STYLES, FINAL_STYLE = ("pop", "rock", "swing"), "bossa"  # the final one is sent only at the very end
FINAL_ENERGY = 0.25
LAND_MS = 100.0  # the final band change lands within this of the flood's end
PROBE_STALL_MS = 5.0  # the stall probe woke this late around the flood: a miss is withheld, not failed


def _flood(port: int, reply_port: int) -> list[bytes]:
    """The flood's datagrams in order: band changes, energy, saves and status queries interleaved;
    the last four are the final band, the final energy, a save and a status query, the last two
    answered on reply_port (so an answer there is the answer to the burst's last)."""
    out: list[bytes] = []
    n = int(RATE * FLOOD_S) - 4
    for i in range(n):
        k = i % 4
        if k == 0:
            out.append(osc_datagram("/liveai/band/style", STYLES[(i // 4) % len(STYLES)]))
        elif k == 1:
            out.append(osc_datagram("/liveai/energy", 0.5 + 0.4 * ((i // 4) % 2)))
        elif k == 2:
            out.append(osc_datagram("/liveai/config/save"))
        else:
            out.append(osc_datagram("/liveai/status"))
    out += [osc_datagram("/liveai/band/style", FINAL_STYLE), osc_datagram("/liveai/energy", FINAL_ENERGY),
            osc_datagram("/liveai/config/save", reply_port), osc_datagram("/liveai/status", reply_port)]
    return out


@pytest.mark.integration
def test_a_mixed_flood_drops_counted_and_the_last_of_the_burst_applied(tmp_path, free_udp_port):
    for tool in ("jackd", "jack_lsp"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install jackd2)")
    from latency_bench.common import JackServer
    from tests.integration.support import EngineProcess, OscPeer, StallProbe, cpu_pressure_s, udp_drops
    cfg = tmp_path / "liveai.toml"
    cfg.write_text('osc_out = []\n')
    server = JackServer(period=256, prefix="lvmf", log_path=tmp_path / "jackd.log").__enter__()
    env = {"JACK_DEFAULT_SERVER": server.name, "JACK_NO_START_SERVER": "1"}
    port = free_udp_port()
    eng = EngineProcess("run", "--config", str(cfg), "--midi-api", "jack", "--virtual", "--band", "pop",
                        "--no-realtime", "--generator", "rules", "--osc-port", str(port), "--oscquery-port", "-1",
                        "--tempo", "120", "--idle-bars", "0", env=env)
    probe = StallProbe()
    peer = OscPeer()  # a listener and the one who asks what the band is after the flood
    last = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # where the burst's last two are answered
    last.bind(("127.0.0.1", 0))
    last.settimeout(0.05)
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flood.bind(("127.0.0.1", 0))
    flood.setblocking(False)
    dgrams = _flood(port, last.getsockname()[1])
    try:
        eng.wait_for_line("ready in", 40)
        peer.send(port, "/liveai/listen")
        for n in (60, 64, 67):
            peer.send(port, "/liveai/player/note", n, 90)
        time.sleep(1.5)
        dest = ("127.0.0.1", port)
        t0, p0 = time.monotonic(), cpu_pressure_s()
        sent = 0
        for i, d in enumerate(dgrams):  # paced: each millisecond's share, then a wait for the next
            if i % (RATE // 1000) == 0:
                while (w := t0 + i / RATE - time.monotonic()) > 0:
                    time.sleep(w)
            try:
                flood.sendto(d, dest)
                sent += 1
            except BlockingIOError:  # our own socket's buffer full: counted as not sent
                pass
        t1 = time.monotonic()
        rate = sent / (t1 - t0)
        landed = None
        n = len(peer.messages)
        while time.monotonic() - t1 < 2.0:  # ask what the band is until it is the final one
            peer.send(port, "/liveai/get/band/style")
            try:
                m = peer.wait_for(lambda m: m.address == "/liveai/band/style" and m.args[:1] == (FINAL_STYLE,),
                                  0.01, after=n)
            except AssertionError:
                continue
            landed = m.t - t1
            break
        pressure = (cpu_pressure_s() - p0) / (time.monotonic() - t0)
        kernel_dropped = udp_drops(port)  # the flood's tail lost before liveai could read it
        answers: list = []
        deadline = time.monotonic() + 3.0  # the save is written at most once a second
        while time.monotonic() < deadline and {a.address for a in answers} < {"/liveai/status/reply",
                                                                               "/liveai/config/saved"}:
            try:
                answers += parse_datagram(last.recv(65536), time.monotonic())
            except socket.timeout:
                pass
        dropped = peer.wait_for(lambda m: m.address == "/liveai/control/dropped", 3.0)
        time.sleep(1.0)  # and the latest count
        counts = [m.args[0] for m in peer.messages if m.address == "/liveai/control/dropped"]
        energy = None
        n = len(peer.messages)
        peer.send(port, "/liveai/get/energy")
        energy = peer.wait_for(lambda m: m.address == "/liveai/energy", 2.0, after=n).args[0]
    finally:
        flood.close()
        last.close()
        peer.close()
        eng.stop()
        server.__exit__(None, None, None)
        probe.stop()
    saved = cfg.read_text()
    stall = probe.worst_ms(t0, t1 + (landed or 0.0) + 0.01)
    # the machine starved the server's thread so long that the kernel dropped datagrams (the burst's
    # last among them, perhaps): liveai never got them, and no verdict on liveai can be drawn
    starved = bool(kernel_dropped) and stall > PROBE_STALL_MS
    outcome = ("PASS" if landed is not None and landed * 1000 < LAND_MS else
               "WITHHELD" if (landed is not None or starved) and stall > PROBE_STALL_MS else "FAIL")
    addrs = {a.address for a in answers}
    print(f"mixed flood: {sent} sent in {t1 - t0:.2f} s ({rate:.0f} a second); the final band landed "
          f"{landed * 1000 if landed is not None else float('nan'):.1f} ms after the flood; the last status "
          f"{'answered' if '/liveai/status/reply' in addrs else 'NOT answered'}, the last save "
          f"{'answered' if '/liveai/config/saved' in addrs else 'NOT answered'}; /liveai/control/dropped "
          f"{counts[-1] if counts else None}; energy {energy}; landing {outcome} (the stall probe's worst "
          f"wake-up {stall:.1f} ms, CPU pressure {pressure * 100:.0f}%, datagrams the kernel dropped at "
          f"liveai's socket {kernel_dropped})")
    assert eng.proc.returncode == 0, eng.output[-2000:]
    assert "Traceback" not in eng.output, eng.output[-3000:]
    if starved and landed is None:
        pytest.xfail(f"this machine starved liveai's OSC thread (the stall probe's worst wake-up {stall:.0f} ms, "
                     f"CPU pressure {pressure * 100:.0f}%): the kernel dropped {kernel_dropped} datagrams at its "
                     "socket before liveai could read them, the burst's last among them")
    assert landed is not None, f"the final band never landed: {eng.output[-2000:]}"
    assert outcome != "FAIL", (landed, stall)
    assert "/liveai/status/reply" in addrs, answers
    assert "/liveai/config/saved" in addrs, answers
    assert f'band = "{FINAL_STYLE}"' in saved, saved
    assert abs(energy - FINAL_ENERGY) < 1e-3, energy
    assert dropped.args[0] > 0 and counts[-1] >= dropped.args[0]
    assert rate > 0.5 * RATE, rate  # what this machine generated is said above; the flood must be one
