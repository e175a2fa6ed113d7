"""harmonize, the reactive path, over a real JACK server: each melody note in to its harmony out,
measured on one JACK timeline (a monitor client hears the player and the engine). Issue 4's
target: p99 <= 10 ms."""
from __future__ import annotations

import time

import pytest

rtmidi = pytest.importorskip("rtmidi")

from .support import EngineProcess, jack_connect, percentile  # noqa: E402

pytestmark = pytest.mark.integration
JACK = rtmidi.API_UNIX_JACK
REPS = 10  # 140 notes: p99 is not just the single worst one
MELODY = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62]


def test_harmonize_answers_each_note_within_10_ms(jack_server, free_udp_port):
    player = rtmidi.MidiOut(JACK, name="hplayer")
    player.open_virtual_port("out")
    monitor = rtmidi.MidiIn(JACK, name="hmonitor", queue_size_limit=16384)
    monitor.open_virtual_port("in")
    eng = EngineProcess("run", "--midi-api", "jack", "--midi-in", "hplayer", "--midi-out", "hmonitor",
                        "--mode", "harmonize", "--tempo", "100", "--generator", "rules",
                        "--osc-port", str(free_udp_port()), "--osc-out", f"127.0.0.1:{free_udp_port()}",
                        "--oscquery-port", "-1", "--idle-bars", "0")
    try:
        eng.wait_for_line("liveai: ready", 15.0)
        jack_connect("hplayer:out", "hmonitor:in")
        time.sleep(0.5)
        while monitor.get_message() is not None:
            pass  # the start-up reset
        for rep in range(REPS):
            for p in MELODY:
                player.send_message([0x90, p, 100])
                time.sleep(0.12)
                player.send_message([0x80, p, 0])
                time.sleep(0.05)
        time.sleep(0.5)
        t, events = 0.0, []
        while (m := monitor.get_message()) is not None:
            t += m[1]
            events.append((t, m[0]))
    finally:
        eng.signal()
        eng.wait(10.0)
        player.delete()
        monitor.delete()
    ons = [(t, b) for t, b in events if b[0] & 0xF0 == 0x90 and b[2] > 0]
    lat, i = [], 0
    while i < len(ons):
        t, b = ons[i]
        if b[0] & 0x0F == 0:  # the player's note (channel 1); its harmony follows on 2-4
            harm = []
            j = i + 1
            while j < len(ons) and ons[j][1][0] & 0x0F != 0:
                harm.append(ons[j][0])
                j += 1
            if len(harm) >= 3:
                lat.append((max(harm[:3]) - t) * 1000)
            i = j
        else:
            i += 1
    lat.sort()
    n_notes = REPS * len(MELODY)
    print(f"harmonize over JACK: {len(lat)}/{n_notes} notes harmonised, latency p50 {percentile(lat, 50):.2f} ms, "
          f"p99 {percentile(lat, 99):.2f} ms, max {lat[-1]:.2f} ms")
    assert len(lat) >= n_notes - 2  # the first note starts the transport and is harmonised too
    assert percentile(lat, 99) <= 10.0
