"""The peer: isobar 0.2.1 playing 16th notes into a JACK MIDI port, as its users run it (its own
Timeline clock, mido over rtmidi's JACK API, normal priority). latency_bench.peer runs it beside
liveai in the same JACK rig.

    python -m latency_bench.isobar_peer PORT SECONDS [--tempo 120] [--channel 5]

Needs the `bench` extra (isobar). Prints "ready" once its port is open, then plays for SECONDS.
"""
from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m latency_bench.isobar_peer")
    ap.add_argument("port", help="JACK MIDI input port to play into (substring)")
    ap.add_argument("seconds", type=float)
    ap.add_argument("--tempo", type=float, default=120.0)
    ap.add_argument("--channel", type=int, default=5, help="0-based MIDI channel")
    a = ap.parse_args(argv)
    import mido
    mido.set_backend("mido.backends.rtmidi/UNIX_JACK")
    import isobar as iso
    from isobar.io.midi.output import MidiOutputDevice
    names = [n for n in mido.get_output_names() if a.port in n]
    if not names:
        print(f"error: no JACK MIDI port matching {a.port!r}: {mido.get_output_names()}", flush=True)
        return 2
    dev = MidiOutputDevice(names[0])
    timeline = iso.Timeline(a.tempo, output_device=dev)
    # a fixed pattern of 16ths, the same shape as the measurement
    timeline.schedule({"note": iso.PSequence([60, 64, 67, 72, 67, 64]), "duration": 0.25, "gate": 0.5,
                       "channel": a.channel, "amplitude": 90})
    print("ready", flush=True)
    timeline.background()
    time.sleep(a.seconds)
    timeline.stop()
    time.sleep(0.2)
    dev.all_notes_off()
    time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
