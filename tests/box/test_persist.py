"""Config that persists: atomic save, load at start-up, a broken file never stops the box."""
import logging
import os
import socket
import threading
import time
from types import SimpleNamespace

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from liveai.box.persist import load_or_defaults, save_config, snapshot, to_toml
from liveai.app.boxwire import attach_config_save
from liveai.control.config import Config, make_config
from liveai.engine.core import EngineSettings
from liveai.io.osc import OscServer
from liveai.music.meter import Meter


def test_round_trip(tmp_path):
    cfg = make_config(None, {"tempo": 97.5, "meter": "3/4", "thru": True, "osc_out": ["10.0.0.2:9001", "127.0.0.1:9"],
                             "channels": {"bass": 7}, "auto_in": r'Key"s\d', "record": "/tmp/takes"})
    p = save_config(cfg, tmp_path / "sub" / "liveai.toml")
    back = make_config(p)
    for k in ("tempo", "meter", "thru", "osc_out", "channels", "auto_in", "record"):
        assert getattr(back, k) == getattr(cfg, k), k
    assert back.source == str(p)
    assert "tempo = 97.5" in p.read_text() and "generator" not in p.read_text()  # defaults are left out
    assert [f.name for f in p.parent.iterdir()] == ["liveai.toml"]  # no temporary file left behind


def test_save_replaces_atomically_and_never_with_a_bad_file(tmp_path, monkeypatch):
    p = tmp_path / "liveai.toml"
    save_config(make_config(None, {"tempo": 100.0}), p)
    replaced = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (replaced.append((a, b)), real(a, b)))
    save_config(make_config(None, {"tempo": 140.0}), p)
    assert len(replaced) == 1 and os.path.dirname(replaced[0][0]) == str(tmp_path)
    bad = make_config(None, {"tempo": 100.0})
    bad.tempo = 9999.0  # out of range: the file written would not load
    with pytest.raises(ValueError):
        save_config(bad, p)
    assert make_config(p).tempo == 140.0
    assert sorted(f.name for f in tmp_path.iterdir()) == ["liveai.toml"]


@pytest.mark.parametrize("text", ["tempo = = 3", "tempo = 5000", "bogus_key = 1", "channels = 3", "\xff\xfe"])
def test_broken_file_gives_defaults_and_a_clear_error(tmp_path, caplog, text):
    p = tmp_path / "liveai.toml"
    p.write_bytes(text.encode("latin-1"))
    with caplog.at_level(logging.ERROR):
        cfg, err = load_or_defaults(p, {"osc_port": 9100})
    assert err and str(p) in err
    assert cfg.tempo == Config().tempo and cfg.osc_port == 9100  # defaults, flags still applied
    assert cfg.source == str(p)  # a save from OSC repairs the file
    assert any("starting on the default settings" in r.getMessage() for r in caplog.records)


def test_missing_file_is_not_an_error(tmp_path):
    cfg, err = load_or_defaults(tmp_path / "none.toml", None)
    assert err is None and cfg.tempo == 120.0


def test_snapshot_takes_live_engine_values():
    cfg = make_config(None, {"tempo": 100.0})
    st = EngineSettings(tempo=133.0, meter=Meter.parse("6/8"), mode=cfg.mode, channels={"bass": 9, "tenor": 3, "alto": 4},
                        density=0.5)
    snap = snapshot(cfg, st)
    assert (snap.tempo, snap.meter, snap.density, snap.channels["bass"]) == (133.0, "6/8", 0.5, 9)
    assert 'meter = "6/8"' in to_toml(snap)


def _osc(address, *args):
    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def test_osc_config_save_writes_the_file_and_replies(tmp_path):
    path = tmp_path / "box.toml"
    cfg = make_config(None, {"tempo": 100.0})
    cfg.source = str(path)
    eng = SimpleNamespace(settings=EngineSettings(tempo=100.0))

    class Loop:  # the engine's loop, run inline
        def call_soon(self, fn, *a):
            fn(*a)
    session = SimpleNamespace(cfg=cfg, engine=eng, control=Loop())
    server = OscServer(0, "127.0.0.1")
    attach_config_save(session, server)
    eng.settings.tempo = 111.0  # changed over OSC while playing
    server.start()
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(5)
    try:
        peer.sendto(_osc("/liveai/config/save"), ("127.0.0.1", server.port))
        msg = next(iter(OscPacket(peer.recvfrom(65536)[0]).messages)).message
        assert (msg.address, list(msg.params)) == ("/liveai/config/saved", [str(path)])
        assert make_config(path).tempo == 111.0
        # the box's start-up loads what was saved
        loaded, err = load_or_defaults(path, None)
        assert err is None and loaded.tempo == 111.0
    finally:
        peer.close()
        server.stop()


def test_save_keeps_the_file_and_adds_live_changes_but_not_flags(tmp_path):
    from liveai.box.persist import to_save
    p = tmp_path / "liveai.toml"
    p.write_text('meter = "3/4"\ntempo = 100.0\n')
    start = make_config(p, {"osc_port": 9555, "tempo": 90.0})  # flags: --osc-port 9555 --tempo 90
    live = snapshot(start, EngineSettings(tempo=90.0, meter=Meter.parse("3/4"), density=0.4))
    out = to_save(p, snapshot(start, EngineSettings(tempo=90.0, meter=Meter.parse("3/4"))), live)
    assert (out.meter, out.tempo, out.density, out.osc_port) == ("3/4", 100.0, 0.4, 9000)


LIVE = {  # every live setting, set over OSC, to a value that is not its default
    "tempo": (97.0,), "meter": (3, 4), "mode": ("call",), "generator": ("model",), "model": ("builtin",),
    "temperature": (1.3,),
    "density": (0.4,), "style": (0.8,), "keylock": (7,),
    **{f"{p}/{k}": v for p in ("bass", "tenor", "alto", "melody")
       for k, v in (("mute", (1,)), ("volume", (0.55,)), ("octave", (-2,)), ("channel", (11,)), ("program", (40,)))},
    "band/style": ("bossa",),  # issue 14: the band's style and its parts' mix, channels and programs
    **{f"{p}/{k}": v for p in ("comp", "pad", "arp", "drums")
       for k, v in (("mute", (1,)), ("volume", (0.45,)), ("octave", (1,)), ("channel", (12,)), ("program", (25,)))
       if not (p == "drums" and k == "octave")},
}
# Not saved: band/variation, a performance gesture like energy (0 follows the playing; a held
# variation is let go at the next start), and transport, an action.
NOT_SAVED = {"transport", "energy", "band/variation"}


def test_config_save_round_trips_every_live_setting(tmp_path, monkeypatch):
    """Issue 12 item 7: /liveai/config/save dropped key lock, temperature, style blend and each part's
    mute, volume and octave. Set every writable parameter over OSC, save, start again from the file:
    every parameter reads back the same."""
    from liveai.control.addresses import PARAMS
    from tests.control.test_remote import Rig
    target = tmp_path / "liveai.toml"
    monkeypatch.setenv("LIVEAI_CONFIG", str(target))
    writable = {p.name for p in PARAMS if p.writable} - NOT_SAVED
    assert writable == set(LIVE), "a new live setting: add it to LIVE"
    rig = Rig(tmp_path)
    attach_config_save(rig.session, rig.server)
    for name, args in LIVE.items():
        rig.send(f"/liveai/{name}", *args)
    deadline = time.monotonic() + 20
    while (rig.ctl.value("generator"), rig.ctl.value("model")) != (("model",), ("builtin",)) \
            and time.monotonic() < deadline:
        rig.run(0.05)
        time.sleep(0.02)
    assert not rig.errors()
    before = {name: rig.ctl.value(name) for name in LIVE}
    rig.send("/liveai/config/save")
    deadline = time.monotonic() + 10
    while not rig.replies("/liveai/config/saved") and time.monotonic() < deadline:
        rig.run(0.01)
        time.sleep(0.01)
    assert rig.replies("/liveai/config/saved"), rig.errors()
    cfg, err = load_or_defaults(target)
    assert err is None
    again = Rig(tmp_path, **{f.name: getattr(cfg, f.name) for f in __import__("dataclasses").fields(cfg)})
    after = {name: again.ctl.value(name) for name in LIVE}
    wrong = {n: (before[n], after[n]) for n in LIVE if before[n] != after[n]}
    assert not wrong, f"not restored (live, after restart): {wrong}"
    assert before["keylock"] == (7,) and before["bass/volume"][0] == pytest.approx(0.55)  # really set
    assert before["band/style"] == ("bossa",) and before["pad/program"] == (25,) and before["drums/channel"] == (12,)


def test_a_flood_of_saves_is_a_few_writes_of_the_latest_state(tmp_path, monkeypatch):
    """Issue 29 item 4: 4,000 /liveai/config/save made 4,000 writes, one thread each, and control
    lagged by seconds. Now a burst is one snapshot per turn of the loop, one write in flight, at
    most one a second, of the latest state; every sender is answered; a control message after the
    flood applies on the next turn."""
    import liveai.app.boxwire as wire
    from tests.control.test_remote import Rig
    target = tmp_path / "liveai.toml"
    monkeypatch.setenv("LIVEAI_CONFIG", str(target))
    writes = []
    real = wire.save_config

    def counting(cfg, path):
        writes.append(cfg.tempo)
        return real(cfg, path)
    monkeypatch.setattr(wire, "save_config", counting)
    rig = Rig(tmp_path)
    attach_config_save(rig.session, rig.server)
    senders = [("127.0.0.1", 7000 + i) for i in range(4)]
    t0 = time.monotonic()
    for k in range(4000):
        if k % 1000 == 0:
            rig.send("/liveai/tempo", 100 + k // 1000, run=0.0)
        rig.send("/liveai/config/save", addr=senders[k % 4], run=0.0)
        if k % 250 == 0:
            rig.run(0.01)  # the loop turns now and then during the flood
    rig.send("/liveai/tempo", 140)  # after the flood: applied on the next turn
    assert rig.engine.transport.bpm == 140.0
    rig.send("/liveai/config/save")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rig.run(0.05)
        time.sleep(0.02)
        answered = {a for a, p, _ in rig.replies("/liveai/config/saved")}
        if writes and writes[-1] == 140.0 and answered >= set(senders):
            break  # the last write is done and has answered everyone (it replies after writing)
    assert writes and writes[-1] == 140.0  # the latest state is what the file holds
    assert len(writes) <= 2 + (time.monotonic() - t0) / wire.SAVE_INTERVAL_S, len(writes)
    print(f"{len(writes)} writes for 4001 saves in {time.monotonic() - t0:.1f} s")
    answered = {a for a, p, _ in rig.replies("/liveai/config/saved")}
    assert answered >= set(senders) | {("127.0.0.1", 7000)}
    assert load_or_defaults(target)[0].tempo == 140.0
    assert not rig.errors()
