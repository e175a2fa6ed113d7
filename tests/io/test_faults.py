import threading

from liveai.io.faults import Faults


def test_raise_and_clear_are_said_once():
    t = [10.0]
    f = Faults(clock=lambda: t[0])
    heard = []
    f.listeners.append(lambda x: heard.append((x.what, x.cleared)))
    assert f.raise_("jack", "JACK server gone")
    assert not f.raise_("jack", "JACK server gone")  # a repeat is not said again
    t[0] = 13.0
    assert f.line() == "FAULT  JACK server gone (3 s)"
    assert f.clear("jack") and not f.clear("jack")
    assert f.line() is None and f.current() == []
    assert heard == [("jack", None), ("jack", 13.0)]
    assert f.history[0].since == 10.0 and f.history[0].cleared == 13.0


def test_threads_agree():
    f = Faults()
    new = []

    def go():
        new.append(f.raise_("synth", "synth died"))

    ts = [threading.Thread(target=go) for _ in range(8)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    assert new.count(True) == 1 and len(f.current()) == 1
