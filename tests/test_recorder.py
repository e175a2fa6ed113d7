import mido
import pytest

from liveai.recorder import Recorder, session_filename
from liveai.tunes import ODE_TO_JOY, tune_events
from tests.helpers import feed, sim_engine


def test_session_recording_is_type1_with_player_and_parts(tmp_path):
    clock, eng, sink = sim_engine(tempo=100.0)
    rec = Recorder(clock, 100.0, (4, 4), eng.voices)
    eng.scheduler.outputs.append(rec)
    eng.on_player.append(rec.player)
    events = tune_events(ODE_TO_JOY.notes()[:20], 100.0)
    end = feed(clock, eng, events)
    clock.call_at(end + 0.2, eng.stop_transport)  # stop while notes sound: they must be closed
    clock.run(until=end + 1.0)
    eng.shutdown()
    path = rec.save(tmp_path / "s.mid")
    mf = mido.MidiFile(path)
    assert mf.type == 1
    names = [t.name for t in mf.tracks]
    assert "player" in names and {"bass", "tenor", "alto"} <= set(names)
    player = mf.tracks[names.index("player")]
    assert [m.note for m in player if m.type == "note_on" and m.velocity] == [n.pitch for n in ODE_TO_JOY.notes()[:20]]
    for track in mf.tracks:
        open_ = {}
        for m in track:
            if m.type == "note_on" and m.velocity:
                open_[m.note] = open_.get(m.note, 0) + 1
            elif m.type in ("note_on", "note_off"):
                open_[m.note] = open_.get(m.note, 0) - 1
        assert all(v == 0 for v in open_.values()), f"open notes in {track.name}"


def test_recording_names_stay_in_their_directory(tmp_path):
    assert session_filename(tmp_path, name="take 1").parent == tmp_path.resolve()
    assert session_filename(tmp_path, name="../../etc/passwd").parent == tmp_path.resolve()
    assert session_filename(tmp_path).suffix == ".mid"


def test_thru_records_each_player_note_once(tmp_path):
    """Issue 12 item 3: with --thru the echo of the player's notes went to the recorder too, so the
    player track held every note twice. It must hold exactly what came in."""
    clock, eng, sink = sim_engine(tempo=100.0, thru=True)
    rec = Recorder(clock, 100.0, (4, 4), eng.voices)
    eng.scheduler.outputs.append(rec)
    eng.on_player.append(rec.player)
    played = ODE_TO_JOY.notes()[:48]
    end = feed(clock, eng, tune_events(played, 100.0))
    clock.run(until=end + 1.0)
    eng.shutdown()
    assert sink.notes_on["player"] == 48  # the echo itself still goes out
    mf = mido.MidiFile(rec.save(tmp_path / "thru.mid"))
    tracks = {t.name: t for t in mf.tracks}
    ons = [m.note for m in tracks["player"] if m.type == "note_on" and m.velocity]
    assert ons == [n.pitch for n in played]
