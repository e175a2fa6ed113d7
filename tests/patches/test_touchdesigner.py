"""The TouchDesigner scripts, run against a stand-in for the few TouchDesigner names they use
(op, absTime): there is no TouchDesigner on a CI machine. The subscription comes from callbacks
an Execute DAT really calls (onStart, onCreate, onFrameStart), is renewed every few seconds, and
/liveai/status/reply fills the state table."""
from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

from liveai.control.addresses import ADDRESSES

TD = Path(__file__).resolve().parents[2] / "patches" / "touchdesigner"
EXECUTE_DAT_CALLBACKS = {"onStart", "onCreate", "onExit", "onFrameStart", "onFrameEnd", "onPlayStateChange",
                         "onDeviceChange", "onProjectPreSave", "onProjectPostSave"}
OSC_IN_DAT_CALLBACKS = {"onReceiveOSC"}


class OscOut:
    def __init__(self):
        self.sent = []

    def sendOSC(self, address, args):
        self.sent.append((address, list(args)))


class Table:
    def __init__(self):
        self.rows = {}

    def row(self, name):
        return self.rows.get(name)

    def appendRow(self, row):
        self.rows[row[0]] = list(row)

    def __setitem__(self, key, value):
        name, i = key
        self.rows[name][i] = value


def load(name, ops, clock):
    ns = {"op": lambda n: ops.get(n), "absTime": clock}
    exec(compile((TD / name).read_text(), name, "exec"), ns)
    return ns


def defined(name):
    return {n.name for n in ast.parse((TD / name).read_text()).body if isinstance(n, ast.FunctionDef)}


def test_only_callbacks_touchdesigner_calls():
    assert "onStart" not in defined("liveai_callbacks.py")  # the OSC In DAT never calls it
    assert defined("liveai_callbacks.py") & OSC_IN_DAT_CALLBACKS == OSC_IN_DAT_CALLBACKS
    assert {"onStart", "onFrameStart"} <= defined("liveai_execute.py") & EXECUTE_DAT_CALLBACKS


def test_subscribes_at_start_and_again_every_few_seconds():
    out, clock = OscOut(), SimpleNamespace(seconds=100.0)
    ns = load("liveai_execute.py", {"oscout1": out}, clock)
    ns["onStart"]()
    assert ("/liveai/listen", [9001]) in out.sent and ("/liveai/status", [9001]) in out.sent
    n = len(out.sent)
    for frame in range(1, 60 * 10):  # ten seconds at 60 frames a second
        clock.seconds = 100.0 + frame / 60
        ns["onFrameStart"](frame)
    listens = [s for s in out.sent[n:] if s[0] == "/liveai/listen"]
    assert 2 <= len(listens) <= 5, len(listens)  # every few seconds, not every frame
    assert all(addr in ADDRESSES for addr, _ in out.sent)


def test_status_reply_and_feedback_fill_the_state_table():
    table = Table()
    ns = load("liveai_callbacks.py", {"liveai_state": table}, SimpleNamespace(seconds=0.0))
    ns["onReceiveOSC"](None, 0, "", b"", 0, "/liveai/status/reply", [1, 5, 3, 120.0, "accompany", "D major", "Bm"], None)
    assert table.rows["bar"][1] == "5" and table.rows["chord"][1] == "Bm" and table.rows["key"][1] == "D major"
    ns["onReceiveOSC"](None, 0, "", b"", 0, "/liveai/bass/channel", [7], None)
    assert table.rows["bass_channel"][1] == "7"
    ns["onReceiveOSC"](None, 0, "", b"", 0, "/liveai/bass/note", [40, 90], None)
    assert table.rows["bass"][1:] == ["40", "90"]
