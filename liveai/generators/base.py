"""The generator interface: what every accompanist (rules, model, style) implements.

A generator is asked, one grid step at a time and ahead of time, what each of its voices does at
that step. It only ever sees what the player has played *so far* (the engine never reads ahead),
so the same code runs live and in tests. Generators are pure musical logic: no I/O, no clocks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence

from liveai.music.notes import STEPS_PER_BEAT, PlayerNote, visible_player  # noqa: F401 (re-exported)

LOOKAHEAD_STEPS = 1
"""Planning lookahead: step k is planned while step k-1 starts, so input up to k-2 is complete.
The engine and the offline evaluation use the same constant."""


@dataclass(frozen=True, slots=True)
class VoiceAction:
    """What one monophonic voice does at one step.

    kind is "rest" (silence; ends a sounding note), "hold" (keep what sounds, or keep silent),
    or "note" (end what sounds, start pitch at velocity).
    """

    kind: str
    pitch: int = 0
    velocity: int = 0


REST = VoiceAction("rest")
HOLD = VoiceAction("hold")


def note(pitch: int, velocity: int) -> VoiceAction:
    """A new note for one voice at this step."""
    return VoiceAction("note", int(pitch), int(velocity))


StepPlan = Mapping[str, VoiceAction]
"""Voice name -> action at one step. A voice left out holds."""


def play(sounding: dict[str, int | None], plan: StepPlan) -> None:
    """What sounds after a step's plan is played: a note replaces, a rest silences, a hold keeps
    (updates `sounding` in place; offline callers follow their generator with it)."""
    for v, act in plan.items():
        if act.kind == "note":
            sounding[v] = act.pitch
        elif act.kind == "rest":
            sounding[v] = None


@dataclass(frozen=True)
class StepContext:
    """Everything a generator may know when it plans one step.

    step: the absolute grid step being planned (0 is beat 1 of bar 1).
    known_until: the last step whose player input is complete (planning happens ahead of time,
      so this is below step; notes that arrived early for a later step are included too).
    player: the player's notes so far, oldest first.
    sounding: for each of the generator's voices, the pitch it is sounding now (None if silent),
      as actually committed (this may come from the fallback generator).
    history: the committed actions of earlier steps, oldest first (at most a few bars).
    """

    step: int
    steps_per_bar: int
    known_until: int
    player: Sequence[PlayerNote]
    sounding: Mapping[str, int | None]
    history: Sequence[StepPlan] = field(default_factory=tuple)
    density: float = 1.0
    velocity: int = 80
    key_lock: int | None = None  # tonic pitch class to force (major/minor decided by listening)
    # the harmony plan (liveai.harmony.planner): the chord of this step, whether it starts here,
    # and the chord planned next; None where nothing plans (the generator then listens itself)
    chord: Any = None  # liveai.music.theory.ChordSymbol
    chord_new: bool = False
    next_chord: Any = None

    @property
    def steps_per_beat(self) -> int:
        return STEPS_PER_BEAT

    @property
    def step_in_bar(self) -> int:
        return self.step % self.steps_per_bar

    @property
    def bar(self) -> int:
        return self.step // self.steps_per_bar


class Generator(Protocol):
    """An accompanist. `voices` is fixed for its lifetime; the engine maps voices to channels."""

    name: str
    voices: tuple[str, ...]

    def plan(self, ctx: StepContext) -> StepPlan:
        """Return the actions of each voice at ctx.step. Must not block for long."""
        ...

    def observe(self, ctx: StepContext, committed: StepPlan) -> None:
        """Told what was really played at ctx.step (it may differ if a fallback played)."""
        ...

    def reset(self) -> None:
        """Forget the performance so far (new song, transport restart)."""
        ...
