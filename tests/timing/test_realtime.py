"""liveai.timing.realtime: one rule for thread priorities, below the audio server."""
import os
import subprocess
import time

import pytest

from liveai.timing import realtime
from liveai.timing.realtime import AudioServer, Priorities, plan


def test_below_a_realtime_jack_and_its_clients():
    p = plan([AudioServer("jackd", 1, 80)])
    # jackd -P 80 runs its clients at 75: the sender at 70 is below both, the engine below it
    assert p.sender <= 74 and p.sender == min(70, 74)
    assert 0 < p.engine < p.sender


def test_a_low_server_priority_pulls_liveai_down():
    p = plan([AudioServer("pipewire", 1, 20)])  # rtkit's usual PipeWire priority
    assert p.sender == 19 and p.engine == 18
    p = plan([AudioServer("jackd", 1, 40)])  # clients at 35
    assert p.sender == 34 and p.engine == 33


def test_a_server_that_is_not_realtime_keeps_liveai_normal():
    p = plan([AudioServer("jackd", 1, 0)])
    assert (p.sender, p.engine) == (0, 0)
    assert "not real-time" in p.reason


def test_the_lowest_of_several_servers_wins():
    p = plan([AudioServer("jackd", 1, 80), AudioServer("pipewire", 2, 20)])
    assert p.sender == 19


def test_no_server_keeps_the_defaults():
    p = plan([])
    if os.geteuid() == 0:
        assert (p.sender, p.engine) == (realtime.SENDER_PRIORITY, realtime.ENGINE_PRIORITY)
    assert isinstance(p, Priorities)


@pytest.mark.parametrize("args,name", [(["-n", "x", "-S"], "x"), (["--name", "y"], "y"), (["--name=z"], "z"),
                                       (["-nw"], "w"), (["-S", "-R"], "default"), (["-d", "dummy", "-n", "q"], "default")])
def test_jack_server_names(args, name):
    assert realtime._jack_name(args) == name


def test_a_real_jackd_is_found_with_its_priority(tmp_path):
    """A real jackd (dummy driver): found by its name, its real-time priority read from /proc."""
    import shutil
    if shutil.which("jackd") is None:
        pytest.skip("jackd not installed")
    name = f"rtprobe{os.getpid()}"
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
    for rt, expect in ((["-R", "-P", "60"], 60), (["--no-realtime"], 0)):
        proc = subprocess.Popen(["jackd", "-n", name, *rt, "-d", "dummy", "-r", "48000", "-p", "256"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            found = []
            for _ in range(100):
                found = [s for s in realtime.audio_servers(name) if s.pid == proc.pid]
                if found and (expect == 0 or found[0].priority):
                    break
                time.sleep(0.05)
            if expect and found and found[0].priority == 0:
                pytest.skip("real-time scheduling not allowed here")
            assert found and found[0].priority == expect
            os.environ["JACK_DEFAULT_SERVER"], old = name, os.environ.get("JACK_DEFAULT_SERVER")
            try:
                p = plan(midi_api="jack")
            finally:
                if old is None:
                    os.environ.pop("JACK_DEFAULT_SERVER")
                else:
                    os.environ["JACK_DEFAULT_SERVER"] = old
            assert p.sender == (min(70, expect - 6) if expect else 0)
        finally:
            proc.terminate()
            proc.wait(10)


def test_set_thread_priority_back_to_normal_in_a_thread():
    import threading
    seen = []

    def body():
        realtime.set_thread_priority(0)
        seen.append(os.sched_getscheduler(0))
    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert seen == [os.SCHED_OTHER]


def test_punctual_normal_thread_sets_timer_slack():
    import threading
    out = []

    def body():
        import ctypes
        out.append(realtime.punctual_normal_thread())
        out.append(ctypes.CDLL(None).prctl(30, 0, 0, 0, 0))  # PR_GET_TIMERSLACK
    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert "timer slack 1 ns" in out[0]
    assert out[1] == 1
