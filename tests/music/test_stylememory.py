"""Style: learning the player's intervals and rhythms, live and from their own MIDI files."""
import subprocess
import sys

import mido
import numpy as np
import pytest

from liveai.music.stylememory import StyleMemory, interval_rhythm_histograms, learn_files, melody_of_midi, style_distance, symbols


def write_lines(directory, lines):
    directory.mkdir(parents=True, exist_ok=True)
    for i, line in enumerate(lines):
        mf = mido.MidiFile(type=0, ticks_per_beat=480)
        tr = mido.MidiTrack()
        mf.tracks.append(tr)
        for p, d in line:
            tr.append(mido.Message("note_on", note=p, velocity=80, time=0))
            tr.append(mido.Message("note_off", note=p, time=d * 120))
        mf.save(directory / f"{i:03d}.mid")


def test_memory_learns_continuations_and_round_trips(tmp_path):
    mem = StyleMemory()
    lick = [(60, 2), (62, 2), (64, 4), (67, 8)] * 3
    mem.learn_notes(lick)
    syms, p = mem.distribution(symbols(lick[:3]))
    assert syms[int(np.argmax(p))] == (3, 8)  # after the lick's start comes its leap of a third
    path = tmp_path / "s.json"
    path.write_bytes(mem.encode())
    again = StyleMemory.load(path)
    assert again.distribution(symbols(lick[:3]))[0] == syms
    (tmp_path / "bad.json").write_text('{"format": "x"}')
    with pytest.raises(ValueError, match="not a liveai style profile"):
        StyleMemory.load(tmp_path / "bad.json")


def test_learn_command_reads_a_directory(tmp_path):
    write_lines(tmp_path / "mine", [[(60 + (i % 5), 2) for i in range(16)]] * 3)
    r = subprocess.run([sys.executable, "-m", "liveai", "learn", str(tmp_path / "mine"), "--out", str(tmp_path / "me.json")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert StyleMemory.load(tmp_path / "me.json").n_symbols == 45


def corpus_lines(kind, n):
    m21 = pytest.importorskip("music21")
    from music21 import corpus
    lines = []
    if kind == "bach":
        for path in corpus.getComposer("bach")[: n * 2]:
            s = corpus.parse(path)
            if len(s.parts) != 4:
                continue
            notes = [(x.pitch.midi, max(1, int(round(x.quarterLength * 4)))) for x in s.parts[0].flatten().notes if x.isNote]
            lines.append(notes)
            if len(lines) >= n:
                break
    else:  # O'Neill's Irish dance tunes: running eighths, against Bach's quarter-note chorale lines
        for s in corpus.parse("oneills1850").scores[:n]:
            lines.append([(x.pitch.midi, max(1, int(round(x.quarterLength * 4)))) for x in s.flatten().notes if x.isNote])
    return [l for l in lines if len(l) > 4]


def calls_file(path, n_calls=40, bpm=100):
    rng = np.random.default_rng(7)
    mf = mido.MidiFile(type=0, ticks_per_beat=480)
    tr = mido.MidiTrack()
    mf.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
    gap = 0
    for c in range(n_calls):
        step, p = 0, 67
        while step < 28:
            d = int(rng.choice([2, 4, 4, 6]))
            p = int(np.clip(p + rng.choice([-2, -1, 1, 2, 3]), 60, 76))
            p -= 1 if p % 12 in (1, 3, 6, 8, 10) else 0
            tr.append(mido.Message("note_on", note=p, velocity=80, time=gap * 120))
            tr.append(mido.Message("note_off", note=p, time=d * 120))
            gap = 0
            step += d
        gap = 64 - step
    mf.save(path)


def answer_lines(path):
    mf = mido.MidiFile(path)
    lines = []
    for tr in mf.tracks:
        if tr.name != "melody":
            continue
        t, starts, line = 0, {}, []
        for m in tr:
            t += m.time
            if m.type == "note_on" and m.velocity:
                starts[m.note] = t
            elif m.type in ("note_on", "note_off") and m.note in starts:
                line.append((starts[m.note], m.note, max(1, round((t - starts.pop(m.note)) / 120))))
        line.sort()
        # split into answers at gaps of over a bar
        cur = []
        for i, (s, p, d) in enumerate(line):
            if cur and s - (line[i - 1][0] + line[i - 1][2] * 120) > 480 * 4:
                lines.append(cur)
                cur = []
            cur.append((p, d))
        if cur:
            lines.append(cur)
    return lines


def test_style_distance_ratio_on_contrasting_corpora(tmp_path):
    a_lines, b_lines = corpus_lines("folk", 50), corpus_lines("bach", 40)
    write_lines(tmp_path / "A", a_lines)
    write_lines(tmp_path / "B", b_lines)
    calls = tmp_path / "calls.mid"
    calls_file(calls)
    hist = {"A": interval_rhythm_histograms(a_lines), "B": interval_rhythm_histograms(b_lines)}
    ratios = {}
    for name, other in (("A", "B"), ("B", "A")):
        (tmp_path / f"{name}.json").write_bytes(learn_files([tmp_path / name]).encode())
        out = tmp_path / f"out{name}.mid"
        r = subprocess.run([sys.executable, "-m", "liveai", "demo", "--fast", "--mode", "call", "--input", str(calls),
                            "--style", str(tmp_path / f"{name}.json"), "--style-blend", "1.0", "--seed", "1",
                            "--out", str(out), "--generator", "rules"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        ans = interval_rhythm_histograms(answer_lines(out))
        ratios[name] = style_distance(ans, hist[name]) / style_distance(ans, hist[other])
    print(f"style distance ratio (to the learnt corpus / to the other): Irish folk {ratios['A']:.2f}, bach {ratios['B']:.2f}")
    assert ratios["A"] <= 0.8 and ratios["B"] <= 0.8
