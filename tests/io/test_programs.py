"""GM programs per part: the table, the events, and what a GM player sees in a recorded take."""
from __future__ import annotations

import mido
import pytest

from liveai.timing.clock import SimClock
from liveai.engine.core import Engine
from liveai.generators.rules import RulesAccompanist
from liveai.io.output import ListOutput
from liveai.io.scheduler import Scheduler
from liveai.io.programs import (DEFAULT_PROGRAM, DEFAULT_PROGRAMS, PartPrograms, Program, parse_assignments,
                                  parse_program)

from tests.view.helpers import demo_take


def test_parse_program_forms():
    assert parse_program(33) == Program(33)
    assert parse_program("33") == Program(33)
    assert parse_program("8:33") == Program(33, bank=8)
    for bad in (128, -1, "x", "1:200", True, 3.5):
        with pytest.raises(ValueError):
            parse_program(bad)
    assert parse_assignments(["bass=38", "pad=1:89"]) == {"bass": Program(38), "pad": Program(89, 1)}
    with pytest.raises(ValueError, match="PART=PROGRAM"):
        parse_assignments(["bass"])


def test_unknown_parts_get_the_default_and_drums_get_none():
    progs = PartPrograms()
    assert progs.get("bass").program == 33  # fingered bass
    assert progs.get("some-new-part") == DEFAULT_PROGRAM
    evs = progs.events({"bass": 2, "drums": 10, "comp": 6})
    pcs = [(e.channel, e.data1) for e in evs if e.kind == "pc"]
    assert pcs == [(1, 33), (5, DEFAULT_PROGRAMS["comp"].program)]  # nothing on channel 10
    # each program change comes after its bank select, on the same channel
    assert [(e.kind, e.data1) for e in evs[:3]] == [("cc", 0), ("cc", 32), ("pc", 33)]
    progs.set("drums", 25)  # a kit chosen on purpose is sent
    assert any(e.channel == 9 and e.kind == "pc" and e.data1 == 25 for e in progs.events({"drums": 10}))
    assert PartPrograms(enabled=False).events({"bass": 2}) == []


def test_bank_select_bytes():
    evs = PartPrograms({"pad": "300:89"}).events({"pad": 7})
    assert [e.midi for e in evs] == [(0xB6, 0, 300 >> 7), (0xB6, 32, 300 & 127), (0xC6, 89)]


def _programs_by_track(path) -> dict[str, list[tuple[int, int]]]:
    """What a GM player sees: each track's (channel, program) changes, read back with mido."""
    out: dict[str, list[tuple[int, int]]] = {}
    for track in mido.MidiFile(path).tracks:
        for m in track:
            if m.type == "program_change":
                out.setdefault(track.name, []).append((m.channel, m.program))
    return out


def test_recorded_take_carries_each_parts_program(tmp_path):
    path = demo_take(tmp_path / "take.mid", bars=4, programs={"tenor": "41"})
    seen = _programs_by_track(path)
    expected = {"bass": [(1, 33)], "tenor": [(2, 41)], "alto": [(3, DEFAULT_PROGRAMS["alto"].program)]}
    for part, want in expected.items():
        assert seen.get(part) == want, seen
    # before the part's first note, so the player switches instrument first
    for track in mido.MidiFile(path).tracks:
        if track.name == "bass":
            kinds = [m.type for m in track if m.type in ("program_change", "note_on")]
            assert kinds[0] == "program_change" and "note_on" in kinds


def test_no_program_records_none(tmp_path):
    path = demo_take(tmp_path / "take.mid", bars=2, program_change=False)
    assert _programs_by_track(path) == {}


def test_channel_change_sends_the_program_on_the_new_channel():
    clock = SimClock()
    sink = ListOutput(clock)
    eng = Engine(clock, Scheduler(clock, [sink]), RulesAccompanist(), RulesAccompanist())
    eng.programs = PartPrograms()
    eng.set_part("bass", channel=9)
    eng.set_part("bass", channel=9)  # unchanged: nothing more
    clock.run()
    pcs = [(e.channel, e.data1) for _, e in sink.events if e.kind == "pc"]
    assert pcs == [(8, 33)]


def test_osc_sets_and_gets_a_parts_program(tmp_path):
    """/liveai/bass/program over OSC (datagrams through the real OscServer's handler): the program
    change goes out at once on the part's channel, and get answers with it."""
    from tests.control.test_remote import Rig
    rig = Rig(tmp_path)
    try:
        rig.run(0.01)
        n = len(rig.session.sink.events)
        rig.send("/liveai/bass/program", 38)
        pcs = [(e.channel, e.data1) for _, e in list(rig.session.sink.events)[n:] if e.kind == "pc"]
        assert pcs == [(1, 38)]
        rig.send("/liveai/get/bass/program")
        assert rig.replies("/liveai/bass/program")[-1][2] == (38,)
        rig.send("/liveai/bass/channel", 6)  # the instrument follows the part to its new channel
        pcs = [(e.channel, e.data1) for _, e in list(rig.session.sink.events)[n:] if e.kind == "pc"]
        assert pcs[-1] == (5, 38)
        rig.send("/liveai/bass/program", 128)
        assert rig.errors()
    finally:
        rig.close()


def test_osc_sets_a_band_parts_program_and_the_drum_kit(tmp_path):
    """The band's parts (issue 14) have programs like the others: /liveai/pad/program changes the
    pad's sound on its channel, and /liveai/drums/program picks a kit on channel 10, where nothing
    is sent until one is chosen."""
    from tests.control.test_remote import Rig
    rig = Rig(tmp_path)
    try:
        rig.run(0.01)
        n = len(rig.session.sink.events)
        rig.send("/liveai/get/pad/program")
        assert rig.replies("/liveai/pad/program")[-1][2] == (DEFAULT_PROGRAMS["pad"].program,)
        rig.send("/liveai/pad/program", 90)
        rig.send("/liveai/drums/program", 32)
        pcs = [(e.channel, e.data1) for _, e in list(rig.session.sink.events)[n:] if e.kind == "pc"]
        assert pcs == [(6, 90), (9, 32)]
        rig.send("/liveai/get/drums/program")
        assert rig.replies("/liveai/drums/program")[-1][2] == (32,)
    finally:
        rig.close()
