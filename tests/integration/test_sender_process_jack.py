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


@pytest.mark.parametrize("port", ["named", "virtual"])
def test_a_sender_process_that_dies_is_said_started_again_and_told_its_programs(jack_server, port):
    """Issue 29: the engine's writes to a dead child are dropped, not raised; the death is a fault
    (the record and on_fault, which is /liveai/error on stage); the child is started again, its
    port's connections made again (a virtual port the user wired by hand too), and the synth at its
    port is reset (a note the dead child began may sound on) and told its program."""
    from liveai.io.faults import faults
    rig = JackRig("rig")
    spec = PortSpec("jack", f"{rig.name}:in", False, "out") if port == "named" else PortSpec("jack", None, True, "out")
    out = ProcessMidiOutput(spec, rt=False, record=False)
    told: list[str] = []
    out.on_fault = told.append
    heard: list[tuple[float, str, bool]] = []  # the fault record's raises and clears of the sender, timed
    listen = lambda f: f.what.startswith("sender") and heard.append(  # noqa: E731
        (time.monotonic(), f.what, f.cleared is not None))
    faults().listeners.append(listen)
    try:
        out.wait_ready()
        if port == "virtual":  # wired by hand, as a user does
            rig.connect(rig.wait_for_port(r"liveai.*:out", is_input=False), f"{rig.name}:in")
        time.sleep(1.3)  # connected, and noted by the process's watch (it says its connections each second)
        out.send_raw([0xC1, 33])  # the bass's program
        out.send(OutEvent.note_on(1, 40, 90, "bass"))
        time.sleep(0.2)
        assert (0xC1, 33) in [tuple(d) for _, d in rig.received], rig.received
        n_kill = len(rig.received)
        old = out.proc
        t_kill = time.monotonic()
        old.kill()
        old.wait(5)
        for _ in range(50):  # the engine goes on sending meanwhile: nothing raises
            out.send(OutEvent.note_off(1, 40, "bass"))
            out.hand(7, [OutEvent.note_on(1, 41, 90, "bass")], time.perf_counter() + 0.03)
            assert out.replace([(7, [], time.perf_counter() + 0.03)]) in (True, False)
            time.sleep(0.01)
            if heard:
                break
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (0xC1, 33) not in [tuple(d) for _, d in rig.received[n_kill:]]:
            time.sleep(0.02)  # the new process's program reaches the rig
        back = time.monotonic() - t_kill
        assert out.restarts == 1 and out.proc is not old
        n_before = len(rig.received)
        out.send(OutEvent.note_on(1, 43, 90, "bass"))
        out.send(OutEvent.note_off(1, 43, "bass"))
        time.sleep(0.3)
    finally:
        faults().listeners.remove(listen)
        out.close()
        rig.close()
    assert [c for _, _, c in heard] == [False, True], heard
    said = heard[0][0] - t_kill
    print(f"\n{port}: sender process death said after {said * 1000:.0f} ms; back after {back * 1000:.0f} ms; "
          f"told {told}")
    assert told and "sender process stopped" in told[0]
    assert not any(f.what.startswith("sender") for f in faults().current())
    assert said < 1.0 and back < 5.0
    restart = [tuple(d) for _, d in rig.received[n_kill:n_before]]  # what the new process sent as it came up
    assert (0xB1, 123, 0) in restart and restart.index((0xB1, 123, 0)) < restart.index((0xC1, 33)), restart
    after = [tuple(d) for _, d in rig.received[n_before:]]
    assert after == [(0x91, 43, 90), (0x81, 43, 0)], after
