"""Which port `auto` picks, and what counts as the same port after a replug."""
from liveai.box.hotplug import choose_port, looks_like_hardware, port_key

ALSA_INS = ["Midi Through:Midi Through Port-0 14:0", "liveai:out 128:0", "RtMidiOut Client:RtMidi output 129:0",
            "Keystation 49 MK3:Keystation 49 MK3 MIDI 1 20:0", "nanoKONTROL2:nanoKONTROL2 MIDI 1 24:0"]
JACK_INS = ["liveai:out", "system:midi_capture_1", "a2j:Keystation [20] (capture): Keystation MIDI 1"]


def test_hardware_test_alsa_and_jack():
    assert [looks_like_hardware(n) for n in ALSA_INS] == [False, False, False, True, True]
    assert [looks_like_hardware(n) for n in JACK_INS] == [False, True, True]
    assert not looks_like_hardware("a2j:Midi Through [14] (capture): Midi Through Port-0")
    assert not looks_like_hardware("liveai-01:in")


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
