"""BandGenerator: plays a band style's parts (bass, comp, pad, arp, drums) from the chord plan.

It is an ordinary generator (liveai.generators.base): the engine asks it one step at a time, ahead
of time, and maps its voices to channels by part (the text before the dot: "comp.2" is the comp
part, "drums.kick" the drums on channel 10). Pitches come from the chord only: StepContext.chord
(the harmony plan) when the engine provides it, else the rules accompanist's chord (RulesChords).
The style decides rhythm and voicing; this class decides which section plays (a variation by
energy, a fill at phrase ends, intro, ending) and keeps the little state a band needs.
"""
from __future__ import annotations

import logging
import random
from collections import deque
from dataclasses import replace
from typing import Callable

from liveai.band.stylerender import HOLD_HIT, REST_HIT, Hit, render_part
from liveai.band.style import GM_DRUMS, PITCHED, Grid, Section, Style, StyleError, fallback_source, load_style
from liveai.generators.base import HOLD, REST, STEPS_PER_BEAT, StepContext, StepPlan, VoiceAction, note
from liveai.music.theory import ChordSymbol
from liveai.vocab import part_of

log = logging.getLogger(__name__)

POLY = {"comp": 4, "pad": 4}  # chord parts: up to this many voices each
VOICES: tuple[str, ...] = ("bass", *(f"comp.{i}" for i in range(1, 5)), *(f"pad.{i}" for i in range(1, 5)), "arp",
                           *(f"drums.{k}" for k in GM_DRUMS))
BAND_PARTS = ("bass", "comp", "pad", "arp", "drums")
_TRIADS = ("maj", "min", "dim")


class RulesChords:
    """The chord the rules accompanist hears at each step: the band's harmony until the chord
    planner fills StepContext.chord. It runs the rules generator on its own voices (never heard)
    so that its state is exactly what it would be when playing."""

    def __init__(self, seed: int = 0) -> None:
        from liveai.generators.rules import VOICES as RULE_VOICES, RulesAccompanist
        self.rules = RulesAccompanist(seed=seed)
        self.sounding: dict[str, int | None] = {v: None for v in RULE_VOICES}

    def chord(self, ctx: StepContext) -> ChordSymbol | None:
        plan = self.rules.plan(replace(ctx, sounding=dict(self.sounding), history=()))
        for v, act in plan.items():
            if act.kind == "note":
                self.sounding[v] = act.pitch
            elif act.kind == "rest":
                self.sounding[v] = None
        c = self.rules.chord
        if c is None or (c.quality in _TRIADS and c.bass is None):
            return c  # the rules' own chords are plain triads
        # a plan's chord the rules kept (StepContext.chord went None mid-segment): its root's triad
        return ChordSymbol(c.root, c.quality if c.quality in _TRIADS else "maj")

    @property
    def key(self):
        return self.rules.key


class BandGenerator:
    """A band playing one style, following energy, phrase ends and requests (fill, intro, ending)."""

    name = "band"
    voices = VOICES

    def __init__(self, style: Style, seed: int = 0, resolve: Callable[[str], Style] = load_style) -> None:
        self.seed = seed
        self._resolve = resolve
        self.energy: float | None = None  # set by /liveai/energy; None: the player's own energy
        self.variation = 0  # 0: chosen by energy; i: the style's i-th variation (1 = sparsest)
        self._intro_armed = False
        self.set_style(style)
        self.reset()

    # ------------------------------------------------------------------ control (engine loop)
    def set_style(self, style: Style) -> None:
        if style.chorale:
            raise StyleError(f"style {style.name!r} has no band parts (the generator's own voices play it)")
        self.style = style
        self._fallback: Style | None = None  # the style's fallback once loaded (itself if it cannot be)
        if hasattr(self, "kind"):  # playing: the new style's groove starts at the next step
            self.kind, self.section = "", None
        self.engine_swing = style.engine_swing  # the engine swings the band by this (0 straight, 1 triplet)

    def set_energy(self, energy: float | None) -> None:
        self.energy = energy

    def set_variation(self, i: int) -> None:
        if not 0 <= i <= len(self.style.variations):
            raise ValueError(f"variation must be 0 (follow energy) or 1..{len(self.style.variations)}")
        self.variation = i

    def request_fill(self) -> None:
        self._fill_request = True

    def request_intro(self) -> None:
        """Play the intro now (from the next bar) or, while stopped, when the transport starts."""
        self._intro_armed = True
        self._intro_pending = True

    def request_ending(self) -> None:
        self._ending_pending = True

    def reset(self) -> None:
        self.rng = random.Random(self.seed)
        self.rules_chords = RulesChords(self.seed)
        self.chord: ChordSymbol | None = None
        self.kind = ""  # "main" | "fill" | "intro" | "ending" | "done"
        self.section: Section | None = None
        self.var_index = 0
        self.sec_start = 0
        self.phrase_start = 0
        self.busy_until = -1  # the engine's idle stop waits for this step (an intro plays on its own)
        self._fill_request = False
        self._intro_pending = self._intro_armed
        self._intro_armed = False
        self._ending_pending = False
        self._crash = False
        self._chord_key: tuple | None = None  # the chord sounding and the step it began
        self._chord_since = 0
        self._joined: set[str] = set()  # pitched parts that have sounded in this song
        self.log: deque[tuple[int, str, str]] = deque(maxlen=512)  # (bar, kind, variation): what played

    @property
    def section_name(self) -> str:
        """What plays now: the variation's name in the main groove, else fill, intro, ending, done."""
        if self.kind == "main" and self.section is not None:
            return self.section.name
        return self.kind

    def current(self):
        return self.rules_chords.key, self.chord

    # ------------------------------------------------------------------ sections
    def _style_for(self, spb: int) -> tuple[Style, str | None]:
        m = self.style.meter_key(spb)
        if m is not None:
            return self.style, m
        if self.style.fallback:
            # loaded once per style (set_style clears it), not compared by name: a file's style has
            # its own name, so that check never matched and re-read the file on every step
            if self._fallback is None:
                try:
                    self._fallback = self._resolve(fallback_source(self.style.fallback, self.style.path))
                except StyleError as e:  # said once, not on every bar (issue 29)
                    log.warning("band style %s: fallback unavailable: %s", self.style.name, e)
                    self._fallback = self.style
            m = self._fallback.meter_key(spb)
            if m is not None:
                return self._fallback, m
        return self.style, None

    def _player_energy(self, ctx: StepContext) -> float:
        """0..1 from the player's last bar: notes per beat (two a beat is full) and loudness,
        scaled by the density setting."""
        if self.energy is not None:
            return self.energy
        window = ctx.steps_per_bar
        notes = [n for n in ctx.player if n.start_step > ctx.known_until - window]
        if not notes:
            return 0.0
        dens = min(1.0, len(notes) / (window / STEPS_PER_BEAT) / 2.0)
        vel = min(1.0, max(0.0, (sum(n.velocity for n in notes) / len(notes) - 40) / 80))
        return (0.5 * dens + 0.5 * vel) * (0.5 + 0.5 * ctx.density)

    def _pick_variation(self, style: Style, ctx: StepContext) -> int:
        if self.variation:
            return min(self.variation, len(style.variations)) - 1
        e = self._player_energy(ctx)
        i = 0
        for j, v in enumerate(style.variations):
            if v.energy <= e + 1e-9:
                i = j
        return i

    def _bar_start(self, style: Style, ctx: StepContext) -> None:
        bar, spb = ctx.bar, ctx.steps_per_bar
        prev = self.kind
        self._crash = False
        if self.kind in ("intro", "ending") and self.section is not None and bar - self.sec_start < self.section.bars:
            pass  # the section goes on
        elif self._ending_pending and style.ending is not None:
            self._ending_pending = False
            self.kind, self.section, self.sec_start = "ending", style.ending, bar
        elif self.kind == "ending" or self.kind == "done" or self._ending_pending:
            self._ending_pending = False
            self.kind, self.section = "done", None
        elif self._intro_pending and style.intro is not None:
            self._intro_pending = self._intro_armed = False
            self.kind, self.section, self.sec_start = "intro", style.intro, bar
            self.busy_until = ctx.step + style.intro.bars * spb - 1
        else:
            if prev == "intro":
                self.phrase_start = bar
            self.var_index = self._pick_variation(style, ctx)
            self.kind, self.section = "main", style.variations[self.var_index]
            n = bar - self.phrase_start
            last = (n + 1) % style.phrase_bars == 0
            auto = style.fill_every > 0 and (n + 1) % style.fill_every == 0 and self.var_index > 0
            if style.fill is not None and ((last and auto) or self._fill_request):
                self._start_fill(style, bar)
            if prev == "fill":
                self._crash = True
        self.log.append((bar, self.kind, self.section.name if self.section else ""))

    def _start_fill(self, style: Style, bar: int) -> None:
        """A fill ends a phrase: one asked for off the phrase grid starts a new phrase after it."""
        self._fill_request = False
        self.kind, self.section = "fill", style.fill
        self.phrase_start = bar + 1

    def _mid_bar(self, style: Style, ctx: StepContext) -> None:
        """Half way through a phrase's last bar: a long note or silence from a player who played in
        the phrase (nothing new for a beat and a half) calls for a fill; so does a fill asked for in
        the first half."""
        if self.kind != "main" or style.fill is None:
            return
        n = ctx.bar - self.phrase_start
        if self._fill_request:
            self._start_fill(style, ctx.bar)
        elif (n + 1) % style.phrase_bars == 0:
            last = ctx.player[-1].start_step if ctx.player else None
            phrase_from = ctx.step - ctx.step_in_bar - (style.phrase_bars - 1) * ctx.steps_per_bar
            # the player played in this phrase and has held a note or been silent for a beat and a half
            if last is not None and last >= phrase_from and ctx.known_until - last >= STEPS_PER_BEAT * 3 // 2:
                self._start_fill(style, ctx.bar)
        if self.kind == "fill":
            self.log.append((ctx.bar, "fill", style.fill.name))

    # ------------------------------------------------------------------ planning
    def plan(self, ctx: StepContext) -> StepPlan:
        spb, pos = ctx.steps_per_bar, ctx.step_in_bar
        derived = self.rules_chords.chord(ctx)  # always advanced, so it is current when needed
        chord = getattr(ctx, "chord", None) or derived
        next_chord = getattr(ctx, "next_chord", None)
        style, meter = self._style_for(spb)
        self.engine_swing = style.engine_swing
        if pos == 0 or self.section is None and self.kind != "done":
            self._bar_start(style, ctx)
        elif pos == spb // 2:
            self._mid_bar(style, ctx)
        if chord is None and self.kind == "intro" and ctx.key_lock is not None:
            chord = ChordSymbol(ctx.key_lock % 12)
        key = None if chord is None else (chord.root, tuple(chord.pcs), chord.bass)
        if key != self._chord_key:
            self._chord_key, self._chord_since = key, ctx.step
        changed = ctx.step == self._chord_since and chord is not None
        self.chord = chord
        if self.kind == "done" or self.section is None:
            return {v: REST for v, p in ctx.sounding.items() if p is not None}
        beat = 16 // int(meter.split("/")[1]) if meter else STEPS_PER_BEAT
        out: dict[str, VoiceAction] = {}
        main = style.variations[self.var_index]
        for part in (*PITCHED, *(f"drums.{k}" for k in GM_DRUMS)):
            sec = self.section
            if self.kind == "fill" and part not in sec.grids:
                if sec.brk:
                    sec = None
                else:
                    sec = main
            grid = self._grid(sec, part, meter) if sec is not None else None
            voices = self._voices_of(part)
            prev = tuple(sorted(p for v in voices if (p := ctx.sounding.get(v)) is not None))
            if grid is None and not (part == "drums.crash" and self._crash and pos == 0):
                if prev:  # not in this section: fall silent
                    out.update({v: REST for v in voices if ctx.sounding.get(v) is not None})
                continue
            if grid is not None:
                bars = sec.bars
                if self.kind == "main":
                    rel = (ctx.bar - self.phrase_start) % bars
                elif self.kind == "fill":
                    rel = 0 if bars == 1 else (ctx.bar - self.phrase_start) % bars
                else:
                    rel = ctx.bar - self.sec_start
                spos = (rel * spb + pos) % (len(grid.cells) * grid.size)
                cell, idx = grid.at(spos), spos // grid.size
                cells = grid.cells
                pspec = style.parts.get(part)
                if pspec is not None and pspec.legato and part != "bass":
                    cells = cells.replace(".", "-")  # legato: every hit rings until the next one
                    cell = None if cell is None else cells[idx]
                nxt = idx + 1
                while nxt < len(cells) and cells[nxt] == "-":
                    nxt += 1
                left = nxt * grid.size - spos
                scale = sec.velocity
            else:
                cell, idx, cells, scale, left = None, 0, "", 1.0, 99
            if part == "drums.crash" and self._crash and pos == 0:
                cell = "X"  # the downbeat after a fill
            spec = style.parts.get("drums" if part.startswith("drums.") else part)
            if spec is None and not part.startswith("drums."):  # a part this style does not have
                out.update({v: REST for v in voices if ctx.sounding.get(v) is not None})
                continue
            drum_note = style.drum_map.get(part[6:], 0) if part.startswith("drums.") else 0
            hit = render_part(part, cell, idx, cells, chord, next_chord, spec, prev, pos == 0, pos % beat == 0,
                              ctx.velocity, scale, self.rng, drum_note, left, changed,
                              ctx.step - self._chord_since < beat)
            acts = self._actions(hit, voices, ctx)
            if part in PITCHED and part not in self._joined:
                if any(a.kind == "note" for a in acts.values()):
                    self._joined.add(part)
                elif grid is not None and chord is not None and pos % beat == 0 and not prev:
                    # the song began before the chord was known (one melody note names none): a
                    # part comes in on the first beat it knows it, not at its next pattern hit
                    # (issue 28: the pad and comp waited for bar 2, the bass for beat 3)
                    hit = render_part(part, "R" if part == "bass" else "x", idx, cells, chord, next_chord, spec,
                                      prev, pos == 0, True, ctx.velocity, scale, self.rng, drum_note,
                                      left, True, True)
                    acts = self._actions(hit, voices, ctx)
                    if any(a.kind == "note" for a in acts.values()):
                        self._joined.add(part)
            out.update(acts)
        return out

    @staticmethod
    def _grid(sec: Section, part: str, meter: str | None) -> Grid | None:
        if meter is not None:
            return sec.grid(part, meter)
        by_meter = sec.grids.get(part)  # a meter the style lacks: its first pattern, cycled
        return next(iter(by_meter.values()), None) if by_meter else None

    @staticmethod
    def _voices_of(part: str) -> tuple[str, ...]:
        n = POLY.get(part)
        return tuple(f"{part}.{i}" for i in range(1, n + 1)) if n else (part,)

    @staticmethod
    def _actions(hit: Hit, voices: tuple[str, ...], ctx: StepContext) -> dict[str, VoiceAction]:
        if hit is HOLD_HIT or hit.kind == "hold":
            return {}
        if hit is REST_HIT or hit.kind == "rest":
            return {v: REST for v in voices if ctx.sounding.get(v) is not None}
        out: dict[str, VoiceAction] = {}
        pitches = sorted(set(hit.pitches))[: len(voices)]
        if hit.revoice:  # the chord changed under held notes: those it keeps ring on, the rest move
            keep = {v for v in voices if ctx.sounding.get(v) in pitches}
            kept = {ctx.sounding[v] for v in keep}
            left = [p for p in pitches if p not in kept]
            for v in voices:
                if v in keep:
                    continue
                if left:
                    out[v] = note(left.pop(0), hit.velocity)
                elif ctx.sounding.get(v) is not None:
                    out[v] = REST
            return out
        for i, v in enumerate(voices):
            if i < len(pitches):
                out[v] = note(pitches[i], hit.velocity)
            elif ctx.sounding.get(v) is not None:
                out[v] = REST
        return out

    def observe(self, ctx: StepContext, committed: StepPlan) -> None:
        pass


def make_band(name_or_path: str | None, seed: int = 0) -> BandGenerator | None:
    """The band for a config's `band` value: None for no band (the chorale style, or unset)."""
    if not name_or_path:
        return None
    style = load_style(name_or_path)
    if style.chorale:
        return None
    return BandGenerator(style, seed=seed)


__all__ = ["BandGenerator", "RulesChords", "VOICES", "BAND_PARTS", "part_of", "make_band", "HOLD"]
