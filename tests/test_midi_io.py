"""Arrival times of polled MIDI input (liveai/midi_io.py ArrivalTimes), on synthetic bursts: the
true arrivals are known, the poll sees them late, and rtmidi's deltas run on a clock of their own."""
from __future__ import annotations

import random

from liveai.midi_io import ArrivalTimes


def polled(arrivals, poll_every=0.001, jack_rate=1.0, stalls=()):
    """Bursts as the poll thread sees them: (deltas on JACK's clock, poll time). stalls: (time,
    seconds) the poll is held up."""
    rng = random.Random(1)
    out, i, prev = [], 0, None
    t = arrivals[0] - rng.uniform(0, poll_every)
    while i < len(arrivals):
        t += poll_every + rng.uniform(0, 0.0002)
        for at, dur in stalls:
            if at <= t < at + dur:
                t = at + dur
        burst = []
        while i < len(arrivals) and arrivals[i] <= t:
            burst.append(0.0 if prev is None else (arrivals[i] - prev) * jack_rate)
            prev = arrivals[i]
            i += 1
        if burst:
            out.append((burst, t))
    return out


def errors(arrivals, bursts):
    a = ArrivalTimes()
    stamped = [x for deltas, now in bursts for x in a.stamp(deltas, now)]
    return [s - t for s, t in zip(stamped, arrivals)]


def test_a_clock_pulse_train_is_stamped_within_a_fraction_of_a_poll():
    pulses = [1.0 + n * 60 / (120 * 24) for n in range(24 * 2 * 60)]  # a minute of MIDI clock
    err = errors(pulses, polled(pulses))
    assert len(err) == len(pulses)
    assert max(abs(e) for e in err[100:]) < 0.0003


def test_jack_clock_drift_does_not_carry_the_stamps_away():
    """JACK's clock 250 ppm off ours: chained deltas alone would be 15 ms out after a minute."""
    pulses = [1.0 + n * 60 / (120 * 24) for n in range(24 * 2 * 60)]
    for rate in (1.00025, 0.99975):
        err = errors(pulses, polled(pulses, jack_rate=rate))
        assert max(abs(e) for e in err[100:]) < 0.0005, rate


def test_a_held_up_poll_is_not_taken_for_a_broken_chain():
    """Notes every 250 ms; the poll thread held up 60 ms just after one arrives: that note keeps
    its true time, and so does every one after it."""
    notes = [1.0 + n * 0.25 for n in range(400)]
    err = errors(notes, polled(notes, stalls=[(notes[200] - 0.0001, 0.060)]))
    assert max(abs(e) for e in err[40:]) < 0.0003
