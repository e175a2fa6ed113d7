"""`liveai show`: the SVG of a demo take parses, holds every note, and labels the band's chords."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import mido
import pytest

from liveai.view.chordname import parse_chord
from liveai.view.pianoroll import band_chords, read_take

from .helpers import demo_take, midi_notes

SVG = "{http://www.w3.org/2000/svg}"


def _show(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "liveai", "show", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def take(tmp_path_factory):
    return demo_take(tmp_path_factory.mktemp("show") / "demo.mid")


def test_svg_has_every_note_and_the_bands_chords(take, tmp_path):
    out = tmp_path / "demo.svg"
    r = _show(str(take), "--out", str(out))
    assert r.returncode == 0, r.stderr
    root = ET.parse(out).getroot()  # valid XML
    assert root.tag == f"{SVG}svg"
    rects = [e for e in root.iter(f"{SVG}rect") if e.get("class") == "note"]
    drawn = sorted((e.get("data-part"), int(e.get("data-pitch")), int(e.get("data-start"))) for e in rects)
    assert drawn == sorted(midi_notes(take))  # every note of every track, read independently with mido
    assert {p for p, _, _ in drawn} >= {"player", "bass", "tenor", "alto"}
    assert all(float(e.get("width")) > 0 and float(e.get("height")) >= 2 for e in rects)  # visible
    # higher notes higher up, later notes further right
    by_pitch = sorted(rects, key=lambda e: int(e.get("data-pitch")))
    assert float(by_pitch[0].get("y")) > float(by_pitch[-1].get("y"))
    by_time = sorted(rects, key=lambda e: int(e.get("data-start")))
    assert float(by_time[0].get("x")) < float(by_time[-1].get("x"))
    # the player's notes are drawn last: on top of the band's
    parts = [e.get("data-part") for e in rects]
    assert parts.index("player") > max(i for i, p in enumerate(parts) if p != "player")
    chords = [e.text for e in root.iter(f"{SVG}text") if (e.get("class") or "").startswith("chord band")]
    assert len(chords) >= 8  # a 16-bar tune changes chord at least every other bar
    segs = band_chords(read_take(take))
    changes = [n for i, (_, _, n) in enumerate(segs) if i == 0 or segs[i - 1][2] != n]
    assert [c.split("/")[0] for c in chords] == [c.split("/")[0] for c in changes]
    bars = [e for e in root.iter(f"{SVG}line") if e.get("class") == "bar"]
    assert len(bars) == read_take(take).bars + 1


def test_band_chords_explain_the_bands_notes(take):
    """Independent of the recogniser: in every labelled segment, the chord's tones carry most of
    the band's sounding weight (duration times velocity)."""
    t = read_take(take)
    segs = band_chords(t)
    assert segs
    for a, b, name in segs:
        pcs = set(parse_chord(name).pcs)
        inside = total = 0.0
        for n in t.notes:
            if n.part == "player":
                continue
            w = max(0, min(n.end, b) - max(n.start, a)) * n.velocity
            total += w
            inside += w if n.pitch % 12 in pcs else 0
        assert total > 0 and inside / total >= 0.5, (a, name, inside / total)


def test_true_chords_from_markers_and_from_a_chart(take, tmp_path):
    mf = mido.MidiFile(take)
    bar = mf.ticks_per_beat * 4
    mf.tracks[0].append(mido.MetaMessage("marker", text="Verse", time=0))  # not a chord: not drawn
    chart = ["D", "A7", "D", "G", "Bm", "Em7", "A/C#", "F#m"]
    first = True
    for name in chart:
        mf.tracks[0].append(mido.MetaMessage("marker", text=name, time=0 if first else bar))
        first = False
    marked = tmp_path / "marked.mid"
    mf.save(marked)
    out = tmp_path / "marked.svg"
    assert _show(str(marked), "--out", str(out)).returncode == 0
    root = ET.parse(out).getroot()
    truth = [e.text for e in root.iter(f"{SVG}text") if e.get("class") == "chord true"]
    assert [c.split("/")[0] for c in truth] == [c.split("/")[0] for c in chart]
    assert "Verse" not in [e.text for e in root.iter(f"{SVG}text")]

    (tmp_path / "chart.txt").write_text("| D | - | A7 | D A |\nG  %  Bm  F#m  # bars 5-8\n")
    out2 = tmp_path / "chart.svg"
    assert _show(str(take), "--out", str(out2), "--chords", str(tmp_path / "chart.txt")).returncode == 0
    truth2 = [e.text for e in ET.parse(out2).getroot().iter(f"{SVG}text") if e.get("class") == "chord true"]
    assert truth2 == ["D", "A7", "D", "A", "G", "Bm", "F#m"]
    xs = [float(e.get("x")) for e in ET.parse(out2).getroot().iter(f"{SVG}text") if e.get("class") == "chord true"]
    bar_w = xs[2] - xs[1]  # A7 (bar 3) to D (bar 4)
    assert xs[3] - xs[2] == pytest.approx(bar_w / 2) and xs[4] - xs[3] == pytest.approx(bar_w / 2)  # "D A": half a bar each


def test_bad_chart_and_missing_file_are_clear_errors(take, tmp_path):
    (tmp_path / "bad.txt").write_text("D Xq7\n")
    r = _show(str(take), "--out", str(tmp_path / "x.svg"), "--chords", str(tmp_path / "bad.txt"))
    assert r.returncode == 2 and "Xq7" in r.stderr and "Traceback" not in r.stderr
    r = _show(str(tmp_path / "nope.mid"), "--out", str(tmp_path / "x.svg"))
    assert r.returncode == 2 and "nope.mid" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.svg").exists()


def test_drawing_grows_linearly_with_the_takes_length(tmp_path):
    """Issue 29 item 5: a bar's chord scanned every note and the take's end was recomputed per note,
    so `liveai show` was quadratic (100,000 notes: 76 s). Four times the notes now take about four
    times as long, in the same run (median of three; quadratic would be sixteen)."""
    import statistics
    import time

    from latency_bench.show import write_take
    from liveai.view.pianoroll import render_svg, true_chords

    def cost(n: int) -> float:
        take = read_take(write_take(tmp_path / f"t{n}.mid", n))
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            svg = render_svg(take, true_chords(take))
            times.append(time.perf_counter() - t0)
        assert svg.count("<rect") >= n
        return statistics.median(times)
    small, large = cost(3000), cost(12000)
    assert large / small < 8.0, (small, large)
