"""liveai.music.tunes.read_midi: input files as users have them (issue 12, item 8)."""
import logging

import mido
import pytest

from liveai.music.tunes import read_midi


def _file(path, tracks, type_=1, tempo_bpm=None, tpb=480):
    mf = mido.MidiFile(type=type_, ticks_per_beat=tpb)
    for i, notes in enumerate(tracks):
        tr = mido.MidiTrack()
        if tempo_bpm is not None and i == 0:
            tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm)))
        for ch, pitch in notes:
            tr.append(mido.Message("note_on", channel=ch, note=pitch, velocity=80, time=0))
            tr.append(mido.Message("note_off", channel=ch, note=pitch, time=tpb))
        mf.tracks.append(tr)
    mf.save(path)
    return path


def test_a_type_2_file_is_read_not_a_traceback(tmp_path):
    p = _file(tmp_path / "t2.mid", [[(0, 60), (0, 62)], [(0, 64), (0, 65)]], type_=2, tempo_bpm=100)
    part = read_midi(p)
    ons = [m.note for _, m in part.events if m.type == "note_on" and m.velocity]
    assert sorted(ons) == [60, 62, 64, 65]


@pytest.mark.parametrize("bpm, clamped", [(10.0, 20.0), (600.0, 400.0)])
def test_a_tempo_out_of_range_is_clamped_with_a_warning(tmp_path, caplog, bpm, clamped):
    p = _file(tmp_path / "slow.mid", [[(0, 60), (0, 62)]], tempo_bpm=bpm)
    with caplog.at_level(logging.WARNING):
        part = read_midi(p)
    assert part.tempo == pytest.approx(clamped)
    assert any("tempo" in r.message and str(p) in r.message for r in caplog.records)
    # the notes follow the clamped tempo: one beat apart at the new tempo
    ons = [t for t, m in part.events_at(part.tempo) if m.type == "note_on"]
    assert ons[1] - ons[0] == pytest.approx(60.0 / clamped, rel=1e-3)


def test_events_are_rescaled_to_another_tempo(tmp_path):
    p = _file(tmp_path / "a.mid", [[(0, 60), (0, 62), (0, 64)]], tempo_bpm=100)
    part = read_midi(p)
    ons = [t for t, m in part.events_at(200.0) if m.type == "note_on"]
    assert ons == pytest.approx([0.0, 0.3, 0.6])


def test_an_empty_file_has_a_reason(tmp_path):
    p = tmp_path / "empty.mid"
    p.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.mid.*(empty|0 bytes)"):
        read_midi(p)
    q = _file(tmp_path / "nonotes.mid", [[]])
    with pytest.raises(ValueError, match=r"no notes"):
        read_midi(q)


def test_drums_are_kept_in_the_input(tmp_path):
    p = _file(tmp_path / "d.mid", [[(0, 60), (9, 36), (0, 62)]], tempo_bpm=120)
    chans = {m.channel for _, m in read_midi(p).events if m.type == "note_on"}
    assert chans == {0, 9}
