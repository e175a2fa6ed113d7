"""Planning each grid step ahead of time: the step context with its chord plan, the primary
generator run on a worker with a deadline, the rules fallback planned every step anyway and played
when the primary misses or fails, and the commit of one step's plan into events.

A mixin of liveai.engine.core.Engine: the state it reads and writes (_next_step, _committed_step,
_busy, _run, _history, _voice_state, _listening, stats) is set up in Engine.__init__; it runs on the engine's
clock. The voices' state changes only through its methods (liveai.engine.voices.VoiceState).
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from liveai.engine.player import PLAYER_WINDOW
from liveai.vocab import part_of
from liveai.engine.unsent import SplitHandle, UnsentStep, keep_to
from liveai.generators.base import HOLD, StepContext, StepPlan, visible_player
from liveai.timing.clock import Timer

log = logging.getLogger(__name__)

INNER = ("alto", "tenor")  # the accompanist's inner voices (the bass keeps its root)
COMMIT_SHARE = 0.25  # a step is committed at the latest a quarter step before it sounds: slack for a busy loop
ENTRY_WAIT_S = 0.015  # the first note's own step: how long the primary may take before the rules play it


class Planning:
    """The engine's step planner (see the module docstring)."""

    def _plan_time(self, step: int) -> float:
        return self.transport.time_of_step(step) - self.settings.lookahead_steps * self.transport.step_seconds

    def _schedule_plan(self, step: int) -> None:
        if self._plan_timer is not None:
            self._plan_timer.cancel()
        self._next_step = step
        self._plan_timer = self.clock.call_at(max(self._plan_time(step), self.clock.now()), self._plan, step)

    def context(self, step: int) -> StepContext:
        """What the generators may know when they plan `step`, with the chord plan of that step.
        Called once a step, in order (the planner keeps its own state). The entry step (the
        player's first note starts the song) is planned as the note arrives, hearing it."""
        known = step if step == self._entry_step and self._entry_heard() else step - self.settings.lookahead_steps - 1
        spb = self.transport.steps_per_bar
        player = visible_player(self._player[-PLAYER_WINDOW:], known)
        # The rules accompanist, when it is the chosen generator, keeps its own chord logic (it is
        # the baseline) and only takes the chords the player plays.
        melody = getattr(self.primary, "name", "") != "rules"
        cp = self.planner.plan(step, spb, known, player, self.settings.key_lock, melody=melody)
        return StepContext(step=step, steps_per_bar=spb, known_until=known,
                           player=player, sounding=dict(self._voice_state.sounding),
                           history=tuple(self._history)[-16:], density=self.settings.density,
                           velocity=self._velocity(), key_lock=self.settings.key_lock,
                           chord=cp.chord, chord_new=cp.new, next_chord=cp.next_chord)

    def _plan(self, step: int) -> None:
        if not self.running:
            return
        s = self.settings
        if (not s.start_now and not s.external_clock and s.idle_bars > 0 and not self._open
                and step > getattr(self.primary, "busy_until", -1)
                and self.clock.now() - self._last_note_on > s.idle_bars * self.transport.steps_per_bar * self.transport.step_seconds):
            log.info("player silent for %s bars: stopping until the next note", s.idle_bars)
            self.stop_transport()
            return
        self._schedule_plan(step + 1)
        ctx = self.context(step)
        self._listen(ctx)
        try:
            fallback_plan = self.fallback.plan(ctx)
        except Exception:
            log.exception("fallback generator failed at step %d", step)
            fallback_plan = {}
        if self.primary is self.fallback:
            self._commit(step, ctx, fallback_plan, primary=True)
            return
        if self._busy:  # the primary is still working on an earlier step
            self.stats.late_steps += 1
            self._commit(step, ctx, fallback_plan, primary=False)
            return
        self._busy = True
        run = self._run
        margin = max(s.commit_margin, COMMIT_SHARE * self.transport.step_seconds)
        due = self.transport.time_of_step(step) - margin
        if step == self._entry_step:  # due as the first note arrives: the band's downbeat waits this much for it
            due = self.clock.now() + min(ENTRY_WAIT_S, margin)
        deadline = self.clock.call_at(due, self._if_current, run, self._deadline, step, ctx, fallback_plan)
        self._on_worker(self.primary, lambda: self.primary.plan(ctx),
                              lambda res, err: self._if_current(run, self._primary_done, step, ctx, res, err,
                                                                deadline, fallback_plan))

    def _held_parts(self) -> frozenset[str]:
        """The band's parts that hold their chords (a pad, a comp that rings): they bloom."""
        if self.band is None or self.settings.bloom_ms <= 0.0 or not self.scheduler.amends_ahead():
            return frozenset()
        return frozenset(p for p, spec in self.band.style.parts.items()
                         if p not in ("bass", "drums") and (p == "pad" or getattr(spec, "legato", False)))

    def _send_step(self, when: float, bloom: float, events: list, held: frozenset[str]) -> Any:
        """Hand a step's events to the sender, amendable until they go: the held parts' a moment
        later (SplitHandle) when they have any."""
        late = [ev for ev in events if ev.part in held]
        if not late:
            return self.scheduler.at_amendable(when, events)
        first = self.scheduler.at_amendable(when, [ev for ev in events if ev.part not in held])
        return SplitHandle(first, self.scheduler.at_amendable(bloom, late), held)

    def _entry_heard(self) -> bool:
        """The first note's step names a chord: a chord struck, or one note in a key set beforehand.
        One melody note alone does not (the first note of a song is its chord's fifth, root or
        third about equally often in POP909 and the lead sheets): the planner waits for more."""
        return self.settings.key_lock is not None or sum(1 for n in self._player if n.start_step == 0) >= 2

    def _listen(self, ctx: StepContext) -> None:
        """A band style plays: the model listens on the worker (one step at a time; a step it
        misses it catches up on the next, as when the rules played one of its steps)."""
        model = self._listening_model()
        if model is None or self._listening:
            return
        self._listening = True

        def done(_res: Any, err: BaseException | None) -> None:
            self._listening = False
            if err is not None:
                log.warning("listening model failed at step %d: %s", ctx.step, err)

        self._on_worker(model, lambda: model.listen(ctx), done)

    def _on_worker(self, gen: Any, job: Callable[[], Any], on_done: Callable[[Any, BaseException | None], None]) -> None:
        """Run a generator's step on the worker; its listener's guess (the model's P(pitch class
        in the coming chord), if it has one) is read on the worker right after the step and handed
        back with the result, so the planner on this thread never reads a model's state that the
        worker is writing (issue 26)."""
        guess = getattr(gen, "listener_guess", None)

        def work() -> tuple[Any, Any]:
            return job(), (guess() if guess is not None else None)

        def done(pair: Any, err: BaseException | None) -> None:
            result = None
            if err is None and pair is not None:
                result, heard = pair
                self._guesses[id(gen)] = (gen, heard)
            on_done(result, err)

        self.clock.run_worker(work, done)

    def _if_current(self, run: int, fn: Callable[..., None], *args: Any) -> None:
        """Call fn unless the transport restarted (or the mode changed) since the step was planned:
        a late answer from an earlier run must not play, nor silence the new run's steps."""
        if run == self._run:
            fn(*args)
        elif fn == self._primary_done:
            self._busy = False

    def _deadline(self, step: int, ctx: StepContext, fallback_plan: StepPlan) -> None:
        if self._committed_step < step and self.running:
            self.stats.late_steps += 1
            log.warning("generator %s missed step %d; rules played it", self.primary.name, step)
            self._commit(step, ctx, fallback_plan, primary=False)

    def _primary_done(self, step: int, ctx: StepContext, plan: Any, err: BaseException | None,
                      deadline: Timer, fallback_plan: StepPlan) -> None:
        self._busy = False
        if self._committed_step >= step or not self.running:
            return  # too late; the fallback already played this step
        deadline.cancel()
        if err is None:
            try:
                err_text = check_plan(plan, self.voices)
            except Exception as e:  # a plan that cannot even be read is garbage too
                err_text = f"unreadable plan: {type(e).__name__}: {e}"
        else:
            err_text = f"{type(err).__name__}: {err}"
        if err_text:
            self.stats.errors += 1
            log.warning("generator %s failed at step %d (%s); rules played it", self.primary.name, step, err_text)
            self._commit(step, ctx, fallback_plan, primary=False)
        else:
            self._commit(step, ctx, plan, primary=True)

    def _commit(self, step: int, ctx: StepContext, plan: StepPlan, primary: bool) -> None:
        """Turn one step's plan into events at the step's time, and tell the generators."""
        if step == self._entry_step and not self._entry_heard():
            # the first note's own step, no chord named yet: the drums come in on it, the harmony
            # once a chord is heard
            plan = {v: a if part_of(v) == "drums" else HOLD for v, a in plan.items()}
        self._committed_step = step
        self.stats.steps += 1
        if primary:
            self.stats.primary_steps += 1
        else:
            self.stats.fallback_steps += 1
        full = {v: plan.get(v, HOLD) for v in self.voices}
        heard = self.planner.chord
        if self.planner.source in ("played", "corrected") and heard is not None and heard != ctx.chord:
            # a chord the player struck after this step was planned: nothing from the old plan
            # that clashes with it may sound (the voices were already moved to it)
            full = keep_to(full, heard)
        if not ctx.chord_new and self.planner.source != "played":
            now = heard if self.planner.source == "corrected" and heard is not None else ctx.chord
            full = self._no_echo(step, ctx.known_until, full, now)
        for v, a in full.items():
            if a.kind == "note":
                self._voice_vel[v] = a.velocity
        offs, ons, before_emitted, before = self._voice_state.commit(full, self._part_note)
        if offs or ons:
            when = self.transport.time_of_step(step) + self._feel(step)
            # A retime, swing or humanize must never let a note-off overtake its note-on (a hung note).
            when = max([when] + [self._floor.get(ev.part, when) for ev in offs + ons])
            if self.settings.humanize_ms > 0 or self.settings.humanize_velocity > 0:
                self._humanized(when, offs, ons)
                self._voice_state.forget_unsent()  # what follows cannot be derived again from a step sent unamendable
            else:
                held = self._held_parts()
                bloom = when + self.settings.bloom_ms / 1000.0
                for ev in offs + ons:
                    self._floor[ev.part] = bloom if ev.part in held else when
                handle = self._send_step(when, bloom, offs + ons, held)
                u = UnsentStep(step, when, handle, full, before_emitted, before, ctx.chord_new)
                self._voice_state.hand_over(u)  # rewritable until the sender takes it
        self._history.append(full)
        if self.primary is not self.fallback:
            self._on_worker(self.primary, lambda: self.primary.observe(ctx, full), lambda r, e: self._observe_done(e))
        try:
            self.fallback.observe(ctx, full)
        except Exception:
            log.exception("fallback observe failed")

    def _no_echo(self, step: int, known_until: int, full: dict, chord: Any) -> dict:
        """An inner voice about to strike the pitch class of a melody note the player began after
        the step was planned (after known_until, up to the step itself) would copy the tune a 16th
        late, the echo issue 13 was filed over: it holds its chord tone instead, unless holding
        would put two voices on one note or cross them (then the plan stands as it is)."""
        if chord is None:
            return full
        split = self.settings.harmony.split
        fresh = {n.pitch % 12 for n in self._player[-8:]
                 if known_until < n.start_step <= step and (split is None or n.pitch >= split)}
        if not fresh:
            return full
        pcs = set(chord.pcs)
        out = dict(full)
        held = False
        for v, a in full.items():
            if a.kind != "note" or part_of(v) not in INNER or a.pitch % 12 not in fresh:
                continue
            cur = self._voice_state.sounding.get(v)
            if cur is not None and cur % 12 in pcs:
                out[v] = HOLD
                held = True
        if held:
            after = [p for v in ("bass", "tenor", "alto") if v in out
                     for p in [self._voice_state.sounding.get(v) if out[v].kind == "hold"
                               else out[v].pitch if out[v].kind == "note" else None] if p is not None]
            if any(lo >= hi for lo, hi in zip(after, after[1:])):
                return full  # low to high, no two on one note
        return out

    def _observe_done(self, err: BaseException | None) -> None:
        if err is not None:
            self.stats.errors += 1
            log.warning("generator %s observe failed: %s", self.primary.name, err)


def check_plan(plan: Any, voices: tuple[str, ...]) -> str:
    """Why a generator's plan is unusable ('' if it is fine): garbage from a model never plays."""
    if not hasattr(plan, "items"):
        return f"plan is {type(plan).__name__}, not a mapping"
    for v, act in plan.items():
        if v not in voices:
            return f"unknown voice {v!r}"
        kind = getattr(act, "kind", None)
        if kind not in ("hold", "rest", "note"):
            return f"bad action {act!r}"
        if kind == "note":
            p, vel = getattr(act, "pitch", None), getattr(act, "velocity", None)
            if not (isinstance(p, int) and 0 <= p <= 127 and isinstance(vel, int) and 1 <= vel <= 127):
                return f"bad note {act!r}"
    return ""
