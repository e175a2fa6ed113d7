"""The rules accompanist: key and chord from what the player played so far, bass and two inner
voices on the grid. It is the fallback whenever the model is late or missing, and the baseline
the model has to beat."""
from __future__ import annotations

from liveai.generators.base import HOLD, REST, STEPS_PER_BEAT, PlayerNote, StepContext, StepPlan, note
from liveai.music.theory import ChordSymbol, Key, chord_scores, choose_chord, detect_key, nearest_pitch, pc_confidence

VOICES = ("bass", "tenor", "alto")
RANGES = {"bass": (36, 55), "tenor": (48, 67), "alto": (55, 74)}


def recent_weights(player: list[PlayerNote] | tuple, known_until: int, window: int) -> list[tuple[int, float]]:
    """(pitch class, weight) of the melody around known_until: the note still sounding weighs
    most (it usually carries on into the step being planned), then recent notes by duration."""
    out = []
    for n in reversed(player):
        if n.start_step < known_until - window:
            break
        sounding = n.end_step is None
        end = known_until + 1 if sounding else n.end_step
        dur = max(1, end - n.start_step)
        age = known_until - n.start_step
        w = min(dur, 8) / 4.0 * (0.7 ** (age / STEPS_PER_BEAT))
        if sounding:
            w += 1.5
        if n.start_step % STEPS_PER_BEAT == 0:
            w *= 1.2
        out.append((n.pitch % 12, w))
    return out


class RulesAccompanist:
    """Bass on the chord root (alternating with the fifth when dense), tenor and alto on chord
    tones in close, smoothly led voicing. Chords change on beats only."""

    name = "rules"
    voices = VOICES

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        self.key: Key | None = None
        self.chord: ChordSymbol | None = None
        # self.chord was handed in by the engine's plan (StepContext.chord), not chosen here. A
        # planned chord is a change from the rules' own chord even when it names the same chord
        # (the voices strike it afresh), and only a chord chosen here earns chord_scores' stay
        # bonus: the rules' behaviour from when the plan's chords were another type, kept as is.
        self._planned = False
        self._key_checked = -1
        self.confidence = None

    def current(self) -> tuple[Key | None, ChordSymbol | None]:
        return self.key, self.chord

    def _listen(self, ctx: StepContext) -> None:
        if ctx.key_lock is not None:
            minor = self.key.minor if self.key else False
            self.key = Key(ctx.key_lock % 12, minor)
        elif ctx.step // STEPS_PER_BEAT != self._key_checked:
            self._key_checked = ctx.step // STEPS_PER_BEAT
            self.key = detect_key(ctx.player, max(ctx.known_until, 0), self.key)

    def plan(self, ctx: StepContext) -> StepPlan:
        player = ctx.player
        silent = not player or (player[-1].end_step is not None
                                and ctx.known_until - player[-1].end_step > ctx.steps_per_bar)
        if silent:
            self.chord, self._planned = None, False
            return {v: (REST if ctx.sounding.get(v) is not None else HOLD) for v in VOICES}
        self._listen(ctx)
        assert self.key is not None
        pos = ctx.step_in_bar
        on_beat = pos % STEPS_PER_BEAT == 0
        # the engine's plan when there is one (so a fallback step never changes the harmony)
        new_chord = ctx.chord if ctx.chord is not None else self._harmony(ctx)
        # _harmony may keep the chord it had (that very object), planned or not
        planned = ctx.chord is not None or (new_chord is self.chord and self._planned)
        changed = new_chord != self.chord or planned != self._planned
        self.chord, self._planned = new_chord, planned
        assert new_chord is not None
        beats = ctx.steps_per_bar // STEPS_PER_BEAT
        beat = pos // STEPS_PER_BEAT
        downbeat = pos == 0
        half_bar = on_beat and beats >= 4 and beat == beats // 2
        vel = ctx.velocity
        plan: dict[str, object] = {}
        # Bass: root on chord changes and downbeats; the fifth on the half bar when dense.
        if changed or downbeat or (half_bar and ctx.density >= 0.7) or ctx.sounding.get("bass") is None:
            root = new_chord.root if getattr(new_chord, "bass", None) is None else new_chord.bass
            pc = root if not (half_bar and not changed) else new_chord.pcs[2]
            prev = ctx.sounding.get("bass") or 43
            plan["bass"] = note(nearest_pitch(pc, prev, *RANGES["bass"]), vel + (10 if downbeat else 4))
        else:
            plan["bass"] = HOLD
        # Inner voices: strike on changes and downbeats, and on every other beat when dense.
        restrike = on_beat and ctx.density >= 0.7 and beat % 2 == 1 and beats != 3
        if beats == 3 and on_beat and ctx.density >= 0.7 and beat > 0:
            restrike = True  # oom-pah-pah
        if changed or downbeat or restrike or ctx.sounding.get("tenor") is None:
            plan.update(self._voicing(new_chord, ctx, vel - (6 if restrike and not changed else 0)))
        else:
            plan["tenor"] = plan["alto"] = HOLD
        return plan  # type: ignore[return-value]

    def _harmony(self, ctx: StepContext) -> ChordSymbol:
        """Chords change at bar lines (and half bars in even meters). At the change the chord is
        predicted from the last known melody; two steps later, once the note on the change is
        known, a clash is corrected."""
        assert self.key is not None
        spb = ctx.steps_per_bar
        beats = spb // STEPS_PER_BEAT
        seg = spb // 2 if beats >= 4 and beats % 2 == 0 else spb
        rel = ctx.step_in_bar % seg
        seg_start = ctx.step - rel
        if self.chord is None or rel == 0:
            recent = recent_weights(ctx.player, ctx.known_until, seg)
            scores = chord_scores(self.key, recent, self._own(), stay=0.3)
            self.confidence = pc_confidence(scores)
            return scores[0][1]
        if rel == 2:
            new = [(n.pitch % 12, 2.0 + min(8, (n.end_step or ctx.known_until + 1) - n.start_step) / 4)
                   for n in ctx.player if n.start_step >= seg_start]
            if new and new[0][0] not in self.chord.pcs:
                scores = chord_scores(self.key, new, self._own(), stay=0.0)
                self.confidence = pc_confidence(scores)
                return scores[0][1]
        return self.chord

    def _own(self) -> ChordSymbol | None:
        """The chord to stay on when scoring: the current one if the rules chose it (see _planned)."""
        return None if self._planned else self.chord

    def _voicing(self, chord: ChordSymbol, ctx: StepContext, vel: int) -> dict:
        """Tenor and alto on two different chord tones other than the bass's, nearest to where
        they are (smooth voice leading), alto above tenor."""
        t_prev = ctx.sounding.get("tenor") or 57
        a_prev = ctx.sounding.get("alto") or 64
        upper = [pc for pc in chord.pcs if pc != chord.root] or list(chord.pcs)
        conf = self.confidence
        best = None
        for t_pc in chord.pcs:
            for a_pc in chord.pcs:
                if a_pc == t_pc:
                    continue
                t = nearest_pitch(t_pc, t_prev, *RANGES["tenor"])
                a = nearest_pitch(a_pc, a_prev, *RANGES["alto"])
                if a <= t:
                    continue
                cost = abs(t - t_prev) + abs(a - a_prev) + (0 if t_pc in upper and a_pc in upper else 2)
                if conf is not None:  # hedge: favour tones the likely chords share
                    cost -= 8.0 * (conf[t_pc] + conf[a_pc])
                if best is None or cost < best[0]:
                    best = (cost, t, a)
        assert best is not None
        return {"tenor": note(best[1], vel), "alto": note(best[2], vel)}

    def observe(self, ctx: StepContext, committed: StepPlan) -> None:
        pass
