"""Issue 25: the sender process over a real JACK server keeps a step handed to it ahead of time
rewritable until it is due (liveai.io.sender: the pipe, the process's DueQueue and its answer).

The engine's side runs in this test (ProcessMidiOutput); the process is the real one, its port a
JACK client; a rig (latency_bench.jackrig) reads what it sends, stamped with the JACK cycle."""
from __future__ import annotations

import time

import pytest

jack = pytest.importorskip("jack")  # JACK-Client, in the test extra

from latency_bench.jackrig import JackRig  # noqa: E402
from liveai.io.midi import PortSpec  # noqa: E402
from liveai.io.output import OutEvent  # noqa: E402
from liveai.io.sender import ProcessMidiOutput  # noqa: E402

pytestmark = pytest.mark.integration


def test_a_step_handed_to_the_process_is_rewritten_until_due_and_refused_after(jack_server):
    rig = JackRig("rig")
    out = ProcessMidiOutput(PortSpec("jack", None, True, "out"), rt=False, record=False)
    try:
        out.wait_ready()
        rig.connect(rig.wait_for_port(r"liveai.*:out", is_input=False), f"{rig.name}:in")
        time.sleep(0.2)
        c, e, g = (OutEvent.note_on(0, p, 90, "alto") for p in (60, 64, 67))
        due = time.perf_counter() + 0.4
        out.hand(1, [c, e], due)
        out.hand(2, [OutEvent.note_off(0, 60, "alto")], due + 0.3)
        time.sleep(0.2)
        t0 = time.perf_counter()
        assert out.replace([(1, [c, g], due)]) is True  # 0.2 s before it is due
        round_trip = time.perf_counter() - t0
        time.sleep(due + 0.05 - time.perf_counter())
        assert out.replace([(1, [e], due)]) is False  # it went out
        assert out.replace([(2, [OutEvent.note_off(0, 67, "alto"), OutEvent.note_off(0, 60, "alto")],
                             due + 0.3)]) is True
        time.sleep(due + 0.45 - time.perf_counter())
    finally:
        out.close()
        rig.close()
    got = [(t, tuple(d)) for t, d in rig.received]
    print(f"\nrewrite answered in {round_trip * 1000:.3f} ms; heard {[(round(t - due, 4), d) for t, d in got]}")
    assert [d for _, d in got] == [(0x90, 60, 90), (0x90, 67, 90), (0x80, 67, 0), (0x80, 60, 0)]
    assert all(abs(t - due) < 0.05 for t, _ in got[:2]) and all(abs(t - due - 0.3) < 0.05 for t, _ in got[2:])
