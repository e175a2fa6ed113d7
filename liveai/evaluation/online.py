"""Offline evaluation of generators: drive one step by step as the engine does, and score it.

run_online feeds a generator exactly what the engine would let it know at planning time (the
player's notes up to `known_until`), so scores measured here are scores of live behaviour.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

from liveai.generators.base import HOLD, LOOKAHEAD_STEPS, Generator, PlayerNote, StepContext, StepPlan, play, visible_player  # noqa: F401

@dataclass(frozen=True, slots=True)
class GridNote:
    """A note on the grid: [start, end) in steps."""

    pitch: int
    velocity: int
    start: int
    end: int
    voice: str = ""


def plan_to_notes(plans: Sequence[StepPlan], voices: Iterable[str], start_step: int = 0) -> list[GridNote]:
    """Turn a list of step plans (one per step) into grid notes, closing all at the end."""
    notes: list[GridNote] = []
    sounding: dict[str, tuple[int, int, int]] = {}
    step = start_step
    for step, plan in enumerate(plans, start_step):
        for v, act in plan.items():
            if act.kind == "hold":
                continue
            if v in sounding:
                p, vel, s = sounding.pop(v)
                notes.append(GridNote(p, vel, s, step, v))
            if act.kind == "note":
                sounding[v] = (act.pitch, act.velocity, step)
    end = start_step + len(plans)
    for v, (p, vel, s) in sounding.items():
        notes.append(GridNote(p, vel, s, end, v))
    notes.sort(key=lambda n: (n.start, n.voice))
    return notes


def run_online(gen: Generator, player: Sequence[PlayerNote], steps_per_bar: int, total_steps: int,
               lookahead: int = LOOKAHEAD_STEPS, density: float = 1.0, planner=None) -> list[GridNote]:
    """Accompany a whole player part offline, never showing the generator future input. planner:
    a liveai.harmony.planner.HarmonyPlanner to plan the chords as the engine does (None: the
    generator listens for itself)."""
    player = sorted(player, key=lambda n: n.start_step)
    gen.reset()
    if planner is not None:
        planner.reset()
    sounding: dict[str, int | None] = {v: None for v in gen.voices}
    history: list[StepPlan] = []
    for step in range(total_steps):
        known = step - lookahead - 1
        ctx = StepContext(step=step, steps_per_bar=steps_per_bar, known_until=known,
                          player=visible_player(player, known), sounding=dict(sounding),
                          history=tuple(history[-4 * steps_per_bar:]), density=density)
        if planner is not None:
            cp = planner.plan(step, steps_per_bar, known, ctx.player)
            ctx = replace(ctx, chord=cp.chord, chord_new=cp.new, next_chord=cp.next_chord)
        plan = dict(gen.plan(ctx))
        for v in gen.voices:
            plan.setdefault(v, HOLD)
        gen.observe(ctx, plan)
        play(sounding, plan)
        history.append(plan)
    return plan_to_notes(history, gen.voices)


def note_in_chord(notes: Sequence[GridNote], chord_at: Mapping[int, frozenset[int]] | Sequence[frozenset[int]]) -> float:
    """Share of accompaniment note duration (in steps) whose pitch class is in the true chord.

    chord_at maps a step to the pitch classes of the true chord sounding then; steps with no
    chord (empty set or missing) are not counted.
    """
    hit = total = 0
    get = chord_at.get if isinstance(chord_at, Mapping) else (
        lambda s, d=None: chord_at[s] if 0 <= s < len(chord_at) else d)
    for n in notes:
        for s in range(n.start, n.end):
            chord = get(s, None)
            if not chord:
                continue
            total += 1
            hit += (n.pitch % 12) in chord
    return hit / total if total else 0.0


def bars_with_notes(notes: Sequence[GridNote], steps_per_bar: int, n_bars: int, first_bar: int = 1) -> float:
    """Share of bars first_bar..n_bars-1 in which at least one accompaniment note starts or sounds."""
    bars = set()
    for n in notes:
        for b in range(n.start // steps_per_bar, (max(n.end - 1, n.start)) // steps_per_bar + 1):
            bars.add(b)
    wanted = range(first_bar, n_bars)
    return sum(b in bars for b in wanted) / max(1, len(wanted))
