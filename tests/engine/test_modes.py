"""Modes that listen: call-and-response through the real command, harmonize, and their parts."""
import subprocess
import sys

import mido
import numpy as np
import pytest

from liveai.generators.base import PlayerNote
from liveai.engine.modes import Harmonizer, answer_start, develop, phrase_before, snap_to_scale
from liveai.music.theory import Key

CALLS = [  # two-bar calls in D major, (pitch, 16ths); each followed by two bars of rest
    [(62, 4), (66, 4), (69, 4), (66, 4), (67, 4), (69, 4), (71, 8)],
    [(74, 2), (73, 2), (71, 4), (69, 4), (67, 4), (66, 8), (64, 8)],
    [(69, 4), (69, 4), (71, 4), (69, 4), (66, 8), (62, 4), (64, 4)],
    [(66, 2), (67, 2), (69, 4), (74, 4), (73, 4), (71, 4), (69, 4), (66, 8)],
]
BPM = 100


def write_calls(path):
    mf = mido.MidiFile(type=1, ticks_per_beat=480)
    tr = mido.MidiTrack()
    mf.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(BPM)))
    tr.append(mido.MetaMessage("time_signature", numerator=4, denominator=4))
    events = []
    spans = []
    for i, call in enumerate(CALLS):
        step = i * 64
        start = step
        for p, d in call:
            events.append((step * 120, 1, mido.Message("note_on", note=p, velocity=90)))
            events.append(((step + d) * 120, 0, mido.Message("note_off", note=p)))
            step += d
        spans.append((start, step))
    events.sort(key=lambda e: (e[0], e[1]))
    last = 0
    for tick, _, m in events:
        tr.append(m.copy(time=tick - last))
        last = tick
    mf.save(path)
    return spans


def engine_notes(mf):
    """(start step, end step, pitch, part) of engine notes, steps from the first player note."""
    step_ticks = mf.ticks_per_beat / 4
    out, first = [], None
    for tr in mf.tracks:
        t, open_ = 0, {}
        for m in tr:
            t += m.time
            if tr.name == "player" and m.type == "note_on" and m.velocity and first is None:
                first = t
            if tr.name in ("player", "liveai"):
                continue
            if m.type == "note_on" and m.velocity:
                open_[m.note] = t
            elif m.type in ("note_on", "note_off") and m.note in open_:
                out.append((open_.pop(m.note), t, m.note, tr.name))
    return [((a - first) / step_ticks, (b - first) / step_ticks, p, n) for a, b, p, n in out]


def test_call_and_response_acceptance(tmp_path):
    src, out = tmp_path / "calls.mid", tmp_path / "out.mid"
    spans = write_calls(src)
    r = subprocess.run([sys.executable, "-m", "liveai", "demo", "--fast", "--mode", "call", "--input", str(src),
                        "--seed", "1", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    notes = engine_notes(mido.MidiFile(out))
    assert notes
    scale = Key(2).scale
    over = 0
    in_key = 0
    for i, (cs, ce) in enumerate(spans):
        bar_line = -(-ce // 16) * 16
        nxt = spans[i + 1][0] if i + 1 < len(spans) else bar_line + 32
        answer = [n for n in notes if bar_line - 4 <= n[0] < nxt]
        print(f"call {i}: ends {ce}, bar line {bar_line}, answer starts {answer[0][0] if answer else None}, {len(answer)} notes")
        assert answer, f"no answer to call {i}"
        assert bar_line <= answer[0][0] <= bar_line + 4, "answer must start within one beat after the bar line"
        assert len(answer) >= 3
        in_key += sum(n[2] % 12 in scale for n in answer)
    answers = [n for n in notes if any(-(-ce // 16) * 16 - 4 <= n[0] for _, ce in spans)]
    assert in_key / len(notes) >= 0.8
    for a, b, p, part in notes:
        if any(a < ce and b > cs for cs, ce in spans):
            over += 1
    print(f"in key {in_key / len(notes):.2f}, over calls {over / len(notes):.2f}")
    assert over / len(notes) <= 0.15


def test_answer_timing_rule():
    # a call running up to the bar line: one beat of silence, the answer on beat 2
    assert answer_start(16, 4, 16) == 20
    # a call ending a beat early: the answer on the bar line
    assert answer_start(12, 4, 16) == 16
    # a call ending mid-bar: the next bar line
    assert answer_start(6, 4, 16) == 16
    assert answer_start(22, 4, 16) == 32


def test_phrase_and_development_stay_in_key_and_register():
    notes = [PlayerNote(60, 80, 0, 4), PlayerNote(64, 80, 4, 8), PlayerNote(67, 80, 8, 16),
             PlayerNote(72, 80, 40, 44)]
    assert phrase_before(notes, 4) == [notes[-1]]
    assert phrase_before(notes[:3], 4) == notes[:3]
    rng = np.random.default_rng(1)
    for _ in range(50):
        ans = develop([(0, 60, 4), (4, 64, 4), (8, 67, 8)], Key(0), 32, rng)
        assert len(ans) >= 3
        assert all(p % 12 in Key(0).scale for _, p, _ in ans)
        assert all(54 <= p <= 73 for _, p, _ in ans)
        assert ans[-1][1] % 12 in (0, 4, 7)
    assert snap_to_scale(61, Key(0)) == 60


def test_harmonizer_voices_below_the_melody_in_the_chord():
    h = Harmonizer()
    player = [PlayerNote(p, 80, i * 4, i * 4 + 4) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])]
    res = h.harmonize(76, player, 32)
    pcs = set(res.chord.pcs)
    assert 76 % 12 in pcs
    for voice, p in res.notes:
        assert p % 12 in pcs and p < 76


def test_harmonize_mode_answers_each_note_at_once_and_closes_it():
    from liveai.app.run import build_session
    from liveai.timing.clock import SimClock
    from liveai.control.config import make_config
    from tests.helpers import sounding_after
    clock = SimClock()
    s = build_session(make_config(None, {"mode": "harmonize", "generator": "rules"}), clock, clock, [])
    for i, p in enumerate([67, 69, 71, 72]):
        t = 1.0 + i * 0.5
        clock.call_at(t, s.engine.post_input, mido.Message("note_on", note=p, velocity=100), t)
        clock.call_at(t + 0.4, s.engine.post_input, mido.Message("note_off", note=p), t + 0.4)
    clock.run(until=4.0)
    ons = [(t, e) for t, e in s.sink.events if e.kind == "on"]
    assert len(ons) == 12
    for i in range(4):
        assert {t for t, _ in ons[3 * i:3 * i + 3]} == {1.0 + i * 0.5}  # reactive: same instant
    s.engine.shutdown()
    assert sounding_after(s.sink) == set()
