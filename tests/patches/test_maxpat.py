"""The Max patch keeps working across liveai restarts: it re-subscribes on a timer, and its
[noteout]s follow the engine's channels (checked on the patch's object graph)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from liveai.vocab import DEFAULT_CHANNELS
from liveai.control.addresses import ADDRESSES

PATCH = Path(__file__).resolve().parents[2] / "patches" / "liveai.maxpat"


def graph():
    doc = json.loads(PATCH.read_text())["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in doc["boxes"]}
    lines = [(l["patchline"]["source"], l["patchline"]["destination"]) for l in doc["lines"]]
    return boxes, lines


def test_resubscribes_every_few_seconds_from_load():
    boxes, lines = graph()
    metros = [i for i, b in boxes.items() if b.get("text", "").startswith("metro ")]
    assert metros
    listen = [i for i, b in boxes.items() if "/liveai/listen" in b.get("text", "") and b["maxclass"] == "message"]
    ok = False
    for m in metros:
        period_ms = float(boxes[m]["text"].split()[1])
        started = any(s[0] in boxes and boxes[s[0]].get("text") == "loadbang" and d[0] == m for s, d in lines)
        feeds = any(s[0] == m and d[0] in listen for s, d in lines)
        ok |= started and feeds and period_ms <= 5000
    assert ok, "no [metro] under 5 s started by [loadbang] banging the listen message"
    # the message subscribes to what the patch needs, each to the port [udpreceive] listens on
    text = boxes[listen[0]]["text"]
    for part in DEFAULT_CHANNELS:
        assert f"/liveai/listen/{part}/channel 9001" in text
    for addr in re.findall(r"(/liveai/\S+) 9001", text):
        assert addr in ADDRESSES, addr


def test_noteout_channels_follow_the_engine():
    boxes, lines = graph()
    for part, ch in DEFAULT_CHANNELS.items():
        note_outs = [i for i, b in boxes.items() if b.get("text") == f"noteout {ch}"]
        assert note_outs, part
        fed = False
        for (src, outlet), (dst, inlet) in lines:
            if dst == note_outs[0] and inlet == 2:  # [noteout]'s right inlet is its channel
                route = boxes[src]["text"].split()
                fed |= route[0] == "route" and route[1 + outlet] == f"/liveai/{part}/channel"
        assert fed, f"noteout {ch} ({part}) does not follow /liveai/{part}/channel"
        pgm = [i for i, b in boxes.items() if b.get("text") == f"pgmout {ch}"]
        assert pgm and any(d == [pgm[0], 1] for _, d in lines), part
