"""MIDI port names for hot-plug: which port is ours, which looks like hardware, which one `auto` or a
pattern picks, the same device again after a replug (a2j and JACK renumber it), and, under ALSA,
who is subscribed to what (/proc/asound/seq/clients): pure functions on names and text.
"""
from __future__ import annotations

import re
from typing import Iterable

from liveai.io.midi import CLIENT

AUTO = "auto"
_ALSA_ADDR = re.compile(r"\s+(\d+):(\d+)$")
_A2J_ID = re.compile(r"\s*\[\d+\]")
_JACK_DUP = re.compile(r"^([^:]+?)-\d+:")
_SOFTWARE = ("midi through", "rtmidi", "pipewire", "timer", "announce", "jack_midi", "qjackctl")


def is_ours(name: str) -> bool:
    return name.lower().startswith(CLIENT)


def port_key(name: str) -> str:
    """A port's identity across replugs: ALSA client:port numbers, a2j's [client] ids and JACK's
    -NN suffixes for duplicate client names change when a device comes back; the names do not."""
    k = _ALSA_ADDR.sub("", name.strip())
    k = _A2J_ID.sub("", k)
    k = _JACK_DUP.sub(r"\1:", k)
    return k.lower()


def looks_like_hardware(name: str) -> bool:
    """ALSA: kernel clients (numbers 16-127) are devices, user-space clients are 128 and up, 14 is
    Midi Through. JACK: physical ports are system:..., system_midi:..., bridged by a2j or PipeWire's Midi-Bridge.
    Anything else (Bluetooth MIDI, a software synth) is picked with the config's auto_in/auto_out."""
    low = name.lower()
    if is_ours(name) or any(s in low for s in _SOFTWARE):
        return False
    m = _ALSA_ADDR.search(name)
    if m:
        return 16 <= int(m.group(1)) < 128
    return bool(re.match(r"^(system|system_midi|a2j(-\d+)?|midi-bridge)\s*:", low))  # midi-bridge: PipeWire


def choose_port(names: Iterable[str], want: str, pattern: str | None = None,
                prefer_key: str | None = None) -> str | None:
    """The port to connect to, or None. want is a substring of the name or "auto"; with auto the
    config's pattern (a regular expression) or else the hardware test decides. A port we were
    connected to before (prefer_key) wins over any other candidate."""
    cands = [n for n in names if not is_ours(n)]
    if want.lower() == AUTO:
        if pattern:
            rx = re.compile(pattern, re.IGNORECASE)
            cands = [n for n in cands if rx.search(n)]
        else:
            cands = [n for n in cands if looks_like_hardware(n)]
    else:
        cands = [n for n in cands if want.lower() in n.lower()]
    if prefer_key:
        for n in cands:
            if port_key(n) == prefer_key:
                return n
    return cands[0] if cands else None


ALSA_CLIENTS = "/proc/asound/seq/clients"
_CLIENT = re.compile(r'^Client\s+(\d+)\s*:\s*"(.*)"')
_PORT = re.compile(r'^\s+Port\s+(\d+)\s*:')
_LINK = re.compile(r'^\s+(?:Connecting To|Connected From)\s*:(.*)$')


def alsa_links(text: str) -> dict[tuple[int, int], set[str]]:
    """From /proc/asound/seq/clients: (client, port) -> names of the clients it is subscribed to or
    from. How a device that was unplugged and plugged back within one poll is noticed under ALSA:
    its name is the same, but our subscription to it is gone."""
    names: dict[int, str] = {}
    raw: dict[tuple[int, int], set[int]] = {}
    client = port = None
    for line in text.splitlines():
        m = _CLIENT.match(line)
        if m:
            client, port = int(m.group(1)), None
            names[client] = m.group(2)
            continue
        m = _PORT.match(line)
        if m and client is not None:
            port = int(m.group(1))
            raw.setdefault((client, port), set())
            continue
        m = _LINK.match(line)
        if m and client is not None and port is not None:
            raw[(client, port)].update(int(c) for c, _ in re.findall(r"(\d+):(\d+)", m.group(1)))
    return {k: {names.get(c, str(c)) for c in v} for k, v in raw.items()}


def linked_to_us(port: str, links: dict[tuple[int, int], set[str]] | None) -> bool | None:
    """Whether liveai is subscribed to the ALSA port named port; None when it cannot be told."""
    m = _ALSA_ADDR.search(port)
    if links is None or not m:
        return None
    peers = links.get((int(m.group(1)), int(m.group(2))))
    if peers is None:
        return None
    return any(is_ours(n) for n in peers)
