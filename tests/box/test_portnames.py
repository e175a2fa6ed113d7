"""Which port `auto` picks, and what counts as the same port after a replug."""
from liveai.box.portnames import choose_port, looks_like_hardware, port_key

ALSA_INS = ["Midi Through:Midi Through Port-0 14:0", "liveai:out 128:0", "RtMidiOut Client:RtMidi output 129:0",
            "Keystation 49 MK3:Keystation 49 MK3 MIDI 1 20:0", "nanoKONTROL2:nanoKONTROL2 MIDI 1 24:0"]
JACK_INS = ["liveai:out", "system:midi_capture_1", "a2j:Keystation [20] (capture): Keystation MIDI 1"]


def test_hardware_test_alsa_and_jack():
    assert [looks_like_hardware(n) for n in ALSA_INS] == [False, False, False, True, True]
    assert [looks_like_hardware(n) for n in JACK_INS] == [False, True, True]
    assert not looks_like_hardware("a2j:Midi Through [14] (capture): Midi Through Port-0")
    assert not looks_like_hardware("liveai-01:in")
    assert looks_like_hardware("Midi-Bridge:Keystation 49 MK3 0 (capture)")  # PipeWire's JACK names


def test_auto_picks_first_hardware_not_ours():
    assert choose_port(ALSA_INS, "auto") == "Keystation 49 MK3:Keystation 49 MK3 MIDI 1 20:0"
    assert choose_port(JACK_INS, "auto") == "system:midi_capture_1"
    assert choose_port(["liveai:out 128:0", "Midi Through:Midi Through Port-0 14:0"], "auto") is None


def test_config_pattern_and_substring():
    assert choose_port(ALSA_INS, "auto", r"nano") == "nanoKONTROL2:nanoKONTROL2 MIDI 1 24:0"
    assert choose_port(ALSA_INS, "auto", r"RtMidi") == "RtMidiOut Client:RtMidi output 129:0"  # the user said so
    assert choose_port(ALSA_INS, "auto", r"^liveai") is None  # never ourselves
    assert choose_port(ALSA_INS, "keystation") == "Keystation 49 MK3:Keystation 49 MK3 MIDI 1 20:0"
    assert choose_port(ALSA_INS, "Oxygen") is None


def test_replugged_device_is_the_same_port():
    # ALSA client numbers, a2j ids and JACK's duplicate-name suffixes change; the name does not
    assert port_key("Keystation 49:Keystation 49 MIDI 1 20:0") == port_key("Keystation 49:Keystation 49 MIDI 1 24:0")
    assert port_key("a2j:Keys [20] (capture): Keys MIDI 1") == port_key("a2j-01:Keys [28] (capture): Keys MIDI 1")
    assert port_key("Keystation 49:Keystation 49 MIDI 1 20:0") != port_key("nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0")
    names = ["nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0", "Keystation 49:Keystation 49 MIDI 1 24:0"]
    assert choose_port(names, "auto", prefer_key=port_key("Keystation 49:Keystation 49 MIDI 1 20:0")) == names[1]


PROC = """Client info
  cur  clients : 4
  peak clients : 4
  max  clients : 192

Client   0 : "System" [Kernel]
  Port   0 : "Timer" (Rwe-)
  Port   1 : "Announce" (R-e-)
    Connecting To: 129:0
Client  14 : "Midi Through" [Kernel]
  Port   0 : "Midi Through Port-0" (RWe-)
Client  20 : "Keystation 49" [Kernel]
  Port   0 : "Keystation 49 MIDI 1" (RWeX)
    Connecting To: 128:0[real:0]
Client  24 : "Synth" [Kernel]
  Port   0 : "Synth MIDI 1" (RWeX)
Client 128 : "liveai" [User]
  Port   0 : "in" (-We-)
    Connected From: 20:0
"""


def test_alsa_subscriptions_tell_a_quick_replug():
    from liveai.box.portnames import alsa_links, linked_to_us
    links = alsa_links(PROC)
    assert links[(20, 0)] == {"liveai"} and links[(0, 1)] == {"129"}
    assert linked_to_us("Keystation 49:Keystation 49 MIDI 1 20:0", links) is True
    assert linked_to_us("Synth:Synth MIDI 1 24:0", links) is False  # same name, our subscription gone
    assert linked_to_us("Other:Other 30:0", links) is None and linked_to_us("a2j:Keys", links) is None
    assert linked_to_us("Synth:Synth MIDI 1 24:0", None) is None  # no /proc/asound: cannot tell


def test_quick_replug_reconnects(monkeypatch):
    from liveai.box.hotplug import HotplugOutput, alsa_links
    from liveai.io.midi import PortSpec
    ep = HotplugOutput(PortSpec("alsa", "auto", False, "out", True))
    events = []
    monkeypatch.setattr(ep, "connect", lambda port: (events.append(("connect", port)), setattr(ep, "connected", port))[1] or True)
    monkeypatch.setattr(ep, "lose", lambda: (events.append(("lose", ep.connected)), setattr(ep, "connected", None)))
    names = ["Synth:Synth MIDI 1 24:0"]
    ep.check(names, None)
    assert events == [("connect", names[0])]
    subscribed = PROC.replace('(RWeX)\nClient 128', '(RWeX)\n    Connected From: 128:1\nClient 128')
    assert alsa_links(subscribed)[(24, 0)] == {"liveai"}
    ep.check(names, alsa_links(subscribed))  # still subscribed: nothing to do
    assert len(events) == 1
    ep.check(names, alsa_links(PROC))  # the synth came back with the same name, unsubscribed
    assert events[1:] == [("lose", names[0]), ("connect", names[0])]


def test_missing_midi_system_is_retried_less_and_less_often(monkeypatch):
    import liveai.box.hotplug as hp
    from liveai.io.midi import PortSpec
    tries = []

    class NoSeq:
        def __init__(self, *a, **k):
            tries.append(1)
            raise RuntimeError("no sequencer")
    monkeypatch.setattr(hp.rtmidi, "MidiIn", NoSeq)
    now = [1000.0]
    monkeypatch.setattr(hp.time, "monotonic", lambda: now[0])
    w = hp.PortWatcher("alsa", [hp.HotplugInput(PortSpec("alsa", "auto", False, "in", True), lambda m, t: None)], [], 1.5)
    for _ in range(200):  # five minutes of polls
        w.poll()
        now[0] += 1.5
    assert 5 <= len(tries) <= 16  # 3, 6, 12, 24, then every 30 s; not 200
