"""A player's own files read as melody and chords, or skipped with one clear reason each."""
from __future__ import annotations

from pathlib import Path

import mido

from liveai.harmony.chordvocab import index_chord
from liveai.train.playerfiles import find_files, read_file

TPB = 480
Q = TPB // 4  # a 16th


def write(path: Path, tracks: dict[str, list[tuple[int, int, int]]], meter=(4, 4), texts=(), channel=None) -> Path:
    """tracks: name -> [(start 16th, end 16th, pitch)]; texts: [(16th, text)] markers."""
    mf = mido.MidiFile(type=1, ticks_per_beat=TPB)
    head = mido.MidiTrack()
    head.append(mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1], time=0))
    last = 0
    for t, text in texts:
        head.append(mido.MetaMessage("marker", text=text, time=t * Q - last))
        last = t * Q
    mf.tracks.append(head)
    for name, notes in tracks.items():
        tr = mido.MidiTrack()
        tr.append(mido.MetaMessage("track_name", name=name, time=0))
        ev = sorted([(s * Q, 1, p) for s, e, p in notes] + [(e * Q, 0, p) for s, e, p in notes], key=lambda x: (x[0], x[1]))
        last = 0
        ch = 9 if channel == "drums" else 0
        for t, on, p in ev:
            tr.append(mido.Message("note_on" if on else "note_off", channel=ch, note=p, velocity=90 if on else 0,
                                   time=t - last))
            last = t
        mf.tracks.append(tr)
    mf.save(str(path))
    return path


# C - G - Am - F, a bar each, as block chords; a tune on top
CHORDS = [(48, 52, 55), (43, 47, 50), (45, 48, 52), (41, 45, 48)]
TUNE = [72, 74, 76, 74, 71, 74, 71, 67, 72, 76, 72, 69, 69, 72, 77, 72]


def piano_part() -> list[tuple[int, int, int]]:
    notes = []
    for bar in range(8):
        for p in CHORDS[bar % 4]:
            notes.append((bar * 16, bar * 16 + 16, p))
        for beat in range(4):
            notes.append((bar * 16 + beat * 4, bar * 16 + beat * 4 + 4, TUNE[(bar % 4) * 4 + beat]))
    return notes


def names(song, bars=4):
    return [str(index_chord(int(song.target[b * 16]))) for b in range(bars)]


def test_piano_part_top_line_is_the_tune_and_chords_come_from_below(tmp_path):
    f = read_file(write(tmp_path / "song.mid", {"piano": piano_part()}))
    assert f.song is not None, f.reason
    assert f.chords_from == "notes"
    assert list(f.song.mel[:16:4]) == TUNE[:4]
    assert f.song.onset[:16:4].all() and not f.song.onset[1:16:4].any()
    assert names(f.song) == ["C", "G", "Am", "F"]
    assert f.song.steps_per_bar == 16


def test_chord_names_in_the_file_win_over_the_notes(tmp_path):
    tune = [(s, e, p) for s, e, p in piano_part() if p >= 60]
    path = write(tmp_path / "sheet.mid", {"melody": tune}, texts=[(0, "Dm7"), (16, "G7"), (32, "Cmaj7"), (48, "A7")])
    f = read_file(path)
    assert f.song is not None and f.chords_from == "symbols"
    assert names(f.song) == ["Dm7", "G7", "Cmaj7", "A7"]
    assert (f.song.target[64:] == 9 * 9 + 5).all()  # the last name holds to the end (A7)


def test_multitrack_song_takes_the_named_melody_track_and_a_take_only_the_player(tmp_path):
    tune = [(s, e, p) for s, e, p in piano_part() if p >= 60]
    pad = [(s, e, p + 36) for s, e, p in piano_part() if p < 60]  # a high pad above the tune
    bass = [(bar * 16, bar * 16 + 16, CHORDS[bar % 4][0] - 12) for bar in range(8)]
    f = read_file(write(tmp_path / "band.mid", {"Strings": pad, "Lead vocal": tune, "Bass": bass}))
    assert f.song is not None, f.reason
    assert list(f.song.mel[:16:4]) == TUNE[:4]
    assert names(f.song) == ["C", "G", "Am", "F"]
    # a liveai take: the band's tracks are not the player's (its comp plays other chords)
    band = [(bar * 16, bar * 16 + 16, p + 5) for bar in range(8) for p in CHORDS[bar % 4]]
    f = read_file(write(tmp_path / "take.mid", {"player": piano_part(), "comp": band}))
    assert f.song is not None and names(f.song) == ["C", "G", "Am", "F"]


def test_three_four_and_the_bass_under_a_chord(tmp_path):
    notes = []
    for bar in range(8):
        c = CHORDS[bar % 4]
        notes += [(bar * 12, bar * 12 + 12, c[1] - 12)] + [(bar * 12, bar * 12 + 12, p) for p in c]
        notes += [(bar * 12 + 4 * b, bar * 12 + 4 * b + 4, 72 + 2 * b) for b in range(3)]
    f = read_file(write(tmp_path / "waltz.mid", {"piano": notes}, meter=(3, 4)))
    assert f.song is not None and f.song.steps_per_bar == 12
    assert str(index_chord(int(f.song.target[0]))) == "C"
    assert f.song.bass[0] == 4  # E under C: the first inversion


def test_bad_files_each_get_a_reason_and_nothing_is_changed(tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "text.mid").write_text("not a song")
    (d / "empty.mid").write_bytes(b"")
    (d / "cut.mid").write_bytes(write(tmp_path / "x.mid", {"piano": piano_part()}).read_bytes()[:40])
    write(d / "drums.mid", {"kit": [(k, k + 1, 36) for k in range(0, 64, 4)]}, channel="drums")
    write(d / "chords_only.mid", {"piano": [(s, e, p) for s, e, p in piano_part() if p < 60]})  # a bar each
    write(d / "melody_only.mid", {"piano": [(s, e, p) for s, e, p in piano_part() if p >= 60]})
    write(d / "five.mid", {"piano": piano_part()}, meter=(5, 4))
    with open(d / "huge.mid", "wb") as fh:  # 100 MB, sparse
        fh.write(b"MThd")
        fh.truncate(100 * 1024 * 1024)
    (d / "notes.txt").write_text("a README is not a song and gets no line")
    before = {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in d.iterdir()}
    got = {}
    for f, why in find_files([str(d), str(tmp_path / "missing")]):
        got[f.name] = why or read_file(f).reason
    assert got == {
        "chords_only.mid": got["chords_only.mid"], "cut.mid": got["cut.mid"], "drums.mid": "drums only",
        "empty.mid": "empty file", "five.mid": "meter 5/4: liveai learns 2/4, 3/4, 4/4 and 6/8",
        "huge.mid": "105 MB: larger than 8 MB", "melody_only.mid": got["melody_only.mid"],
        "text.mid": "not a MIDI file", "missing": "does not exist"}
    assert got["cut.mid"].startswith("damaged MIDI file")
    assert got["chords_only.mid"].startswith("no melody")
    assert "teaches no harmony" in got["melody_only.mid"]
    assert before == {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in d.iterdir()}


def test_a_folder_of_many_files_is_capped_with_a_line_for_the_rest(tmp_path):
    for i in range(30):
        (tmp_path / f"{i:03d}.mid").write_bytes(b"x")
    seen = list(find_files([str(tmp_path)], max_files=20))
    assert len(seen) == 30
    assert [w for _, w in seen[:20]] == [""] * 20
    assert all(w == "over --max-files 20: not read" for _, w in seen[20:])
    assert all(read_file(f).reason == "not a MIDI file" for f, _ in seen[:20])
