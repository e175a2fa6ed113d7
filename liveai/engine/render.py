"""Rendering planned actions into the events a part really sends: its channel, octave and volume
(the mix), and the feel of the step's time (swing, humanize).

A mixin of liveai.engine.core.Engine: the state it reads (settings, transport, scheduler, _floor,
_rng, band) is set up in Engine.__init__.
"""
from __future__ import annotations

from liveai.io.output import OutEvent
from liveai.engine.settings import PartMix
from liveai.vocab import part_of


class Rendering:
    """The engine's mix and feel (see the module docstring)."""

    def _part_note(self, part: str, pitch: int, velocity: int) -> OutEvent | None:
        """The note-on a part really sends: its channel, octave and volume; None when muted."""
        part = part_of(part)  # a band voice ("comp.2", "drums.kick") plays on its part's channel
        mix = self.settings.mix.get(part)
        ch = self.settings.channels.get(part, 1) - 1
        if mix is not None:
            velocity = int(round(velocity * mix.volume))
            if mix.mute or velocity < 1:
                return None
            if part != "drums":  # a drum note is an instrument, not a pitch
                pitch += 12 * mix.octave
            while pitch > 127:
                pitch -= 12
            while pitch < 0:
                pitch += 12
        return OutEvent.note_on(ch, pitch, velocity, part)

    def set_part(self, part: str, mute: bool | None = None, volume: float | None = None,
                 octave: int | None = None, channel: int | None = None) -> None:
        """Mix one part. Takes effect from the part's next note; a sounding note ends as it began."""
        if part not in self.settings.channels:
            raise ValueError(f"unknown part {part!r}; parts: {', '.join(self.settings.channels)}")
        mix = self.settings.mix.setdefault(part, PartMix())
        if volume is not None and not 0.0 <= volume <= 1.0:
            raise ValueError(f"volume must be 0..1, not {volume}")
        if octave is not None and not -3 <= octave <= 3:
            raise ValueError(f"octave must be -3..3, not {octave}")
        if channel is not None and not 1 <= channel <= 16:
            raise ValueError(f"channel must be 1..16, not {channel}")
        if mute is not None:
            mix.mute = bool(mute)
        if volume is not None:
            mix.volume = float(volume)
        if octave is not None:
            mix.octave = int(octave)
        if channel is not None and int(channel) != self.settings.channels[part]:
            self.settings.channels[part] = int(channel)
            self.send_programs((part,))  # the synth's new channel needs the part's instrument

    def send_programs(self, parts: tuple[str, ...] | None = None) -> None:
        """Bank select and program change for these parts (default all) on their channels, at
        once: as an output opens, when a channel or a program changes, when a take starts."""
        if self.programs is not None:
            evs = self.programs.events(self.settings.channels, parts)
            if evs:
                self.scheduler.now(evs)

    def _feel(self, step: int) -> float:
        """Swing: off-beat 8ths (or 16ths) late by up to a third of their pair (a triplet feel)."""
        s = self.settings
        swing = s.swing
        if swing <= 0 and self.band is not None and self.settings.mode == "accompany":
            swing = getattr(self.band, "engine_swing", 0.0)  # the band style's own swing
        if swing <= 0:
            return 0.0
        u = s.swing_unit
        if (step // u) % 2 == 1 and step % u == 0:
            return swing * (2 * u / 3 - u / 2) * 2 * self.transport.step_seconds
        return 0.0

    def _humanized(self, when: float, offs: list[OutEvent], ons: list[OutEvent]) -> None:
        """Each voice a little early or late and louder or softer, seeded (off by default). Never
        earlier than now, so planning ahead still holds."""
        s = self.settings
        groups: dict[str, list[OutEvent]] = {}
        for ev in offs + ons:
            groups.setdefault(ev.part, []).append(ev)
        now = self.clock.now()
        for part, evs in groups.items():
            dt = self._rng.gauss(0.0, s.humanize_ms / 1000.0) if s.humanize_ms > 0 else 0.0
            dt = max(-0.5 * self.transport.step_seconds, min(0.5 * self.transport.step_seconds, dt))
            out = []
            for ev in evs:
                if ev.kind == "on" and s.humanize_velocity > 0:
                    v = int(round(ev.data2 + self._rng.gauss(0.0, s.humanize_velocity)))
                    ev = OutEvent.note_on(ev.channel, ev.data1, max(1, min(127, v)), ev.part)
                out.append(ev)
            at = max(now, when + dt, self._floor.get(part, now))
            self._floor[part] = at
            self.scheduler.at(at, out)
