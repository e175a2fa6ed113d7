"""The chord plan: which chord each coming harmonic segment gets, decided before it sounds.

Planning follows ReaLJam's split into a lookahead and a commit horizon (ReaLJam,
CHI EA 2025; code: github.com/lukewys/realchords-pytorch, realchords/realjam/):
the chord of the next segment is predicted ahead and shown (OSC, the live view); at the segment's
first step it is committed, from what the player has played so far (never from the future): the
key, the progression so far (functional harmony, and the chords that followed the same chords
earlier in this performance), the song's progression once it is recognised (the 12-bar blues,
I-V-vi-IV, ii-V-I ...: liveai.harmony.forms), the meter position and, with the model, the neural
listener's guess. Once the melody of the segment is heard the committed chord is kept unless the melody
clearly contradicts it; then it is corrected at once and the correction counted.

Chords the player plays (two or more notes struck together, or notes below a split point) are
the harmony from the step they are heard, for as long as they are held, overriding the plan.

Pure logic on note lists: the engine and the offline evaluation drive the same object one step at
a time, in order.

The scoring tables and the melody's evidence live in liveai.harmony.evidence, the key finder in
liveai.harmony.keyfinding, the chord model's ears in liveai.harmony.modelears. One cohesive module
(over 400 lines on purpose): the plan/predict/correct state machine, with the played-chord
recognition that overrides it, shares one state that each step reads and writes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from liveai.music.notes import STEPS_PER_BEAT, PlayerNote
from liveai.harmony.chords import clashes, recognize
from liveai.harmony.forms import FormListener
from liveai.harmony.keyfinding import melody_key  # noqa: F401  (the planner's key, here for callers)
from liveai.harmony.modelears import ModelEars
from liveai.music.theory import TRIAD_OF as TRIAD_QUALITY, ChordSymbol, Key
from liveai.harmony.evidence import (  # noqa: F401 (the scoring tables, re-exported for callers)
    _KeyTables,
    _PRIOR,
    _Ranked,
    _SEGS_PER_BAR,
    _segment_index,
    _triad_of,
    fit,
    form_fit,
    melody_evidence,
    segment_steps)

HARMONIC_RHYTHMS = ("auto", "beat", "half", "bar")
CORRECTIONS = ("auto", "clash", "beat", "any")

@dataclass
class PlannerSettings:
    """How the band plans its harmony (one owner: the engine's settings hold this object)."""

    harmonic_rhythm: str = "auto"  # auto: half bars in 4/4 (and 2/2, 12/8), bars otherwise
    split: int | None = None  # MIDI note: the player's notes below it are chord notes
    chord_window_s: float = 0.04  # notes struck within this are one chord
    change_margin: float = 0.7  # how much better (in melody evidence) a chord must be to correct
    listener_weight: float = 1.5  # weight of the neural listener's guess when there is one
    on_bass: bool = False  # "Fingered On Bass": the lowest played note is the band's bass (else the root)
    stay_bar: float = 0.4  # P(the chord stays) across a bar line, a half bar, another beat
    stay_half: float = 0.6
    stay_beat: float = 0.8
    passing: float = 1.0  # cost of a melody note outside the chord, per unit of its weight
    evidence: float = 0.9  # weight of what the melody says against the progression's expectation
    memory: float = 0.3  # most trust in the chords that followed the same chords earlier
    phrase_memory: float = 1.0  # bonus for the chord a phrase had when its melody was heard before
    form_weight: float = 0.8  # most trust in a recognised progression (liveai.harmony.forms); 0: off
    model_weight: float = 1.0  # weight of the chord model's log P(triad over the segment), when there is one
    # how far a personal model's learnt progressions (`liveai learn`: the player's own chord-to-chord
    # counts, carried in the model's card) replace the built-in functional table; 0: not at all
    learnt_progressions: float = 1.0
    model_only: bool = False  # the chord model alone decides (the hand-written evidence is not used)
    model_voicing: bool = True  # play the model's seventh, sus or slash bass of the chosen triad
    # the next segment's chord is committed (and shown as next) this many beats ahead; 0: at its
    # first step; None: 1 under a set harmonic rhythm (the predictable band, whose next chord is the
    # one that comes), 0 under auto (the listening band corrects at once; plansim: 0.32 of beats
    # right against 0.24 committed a beat ahead)
    commit_beats: float | None = None
    # when a committed chord may change (liveai.evaluation.plansim measured each on real songs):
    # "auto" is "any" under the auto harmonic rhythm, else "clash"; "any": wherever the melody
    # contradicts it, at once; "clash": only on a segment's first step, for a note that clashes
    # with it (so a set harmonic rhythm bounds every change); "beat": the same on any beat;
    correct: str = "auto"

    def __post_init__(self) -> None:
        if self.harmonic_rhythm not in HARMONIC_RHYTHMS:
            raise ValueError(f"harmonic rhythm must be one of {', '.join(HARMONIC_RHYTHMS)}, "
                             f"not {self.harmonic_rhythm!r}")
        if self.split is not None and not 0 <= self.split <= 127:
            raise ValueError(f"split must be a MIDI note 0-127, not {self.split}")
        if not 0.0 <= self.form_weight <= 1.0:
            raise ValueError(f"form_weight must be 0-1, not {self.form_weight}")
        if self.commit_beats is not None and not 0.0 <= self.commit_beats <= 4.0:
            raise ValueError(f"commit_beats must be 0-4, not {self.commit_beats}")
        if self.correct not in CORRECTIONS:
            raise ValueError(f"correct must be one of {', '.join(CORRECTIONS)}, not {self.correct!r}")


@dataclass(frozen=True, slots=True)
class ChordPlan:
    """The harmony of one step: the chord sounding, the one planned next, and where it came from
    ("plan", "corrected", "played")."""

    chord: ChordSymbol | None
    next_chord: ChordSymbol | None
    source: str = "plan"
    segment_start: int = 0
    new: bool = False  # the chord starts at this step
    next_start: int = -1  # the step next_chord is planned to start on (-1: none planned)


class HarmonyPlanner:
    """Plans one step at a time, in order (see the module docstring)."""

    def __init__(self, settings: PlannerSettings | None = None,
                 listener: Callable[[], np.ndarray | None] | None = None, chord_model: Any = None) -> None:
        self.settings = settings or PlannerSettings()
        self.listener = listener  # () -> P(pitch class in the coming chord), the model's guess
        # the streaming chord model (liveai.neural.chordmodel.ChordModel), fed the melody frame by frame
        self.ears = ModelEars(chord_model) if chord_model is not None else None
        # a personal model's progressions (liveai.train.learn), else None
        self.learnt = getattr(getattr(chord_model, "spec", None), "card", {}).get("progressions") or None
        self.reset()
        if self.settings.form_weight > 0.0:  # built here, not on a step: tens of ms on a small box
            for segs_per_bar in _SEGS_PER_BAR[self.settings.harmonic_rhythm]:
                key = (segs_per_bar, self.settings.passing)
                self._form_listeners[key] = FormListener(segs_per_bar, form_fit(self.settings.passing))

    def reset(self) -> None:
        self._key_tables: dict = getattr(self, "_key_tables", {})
        self.key: Key | None = None
        self._key_beat = -1
        self.chord: ChordSymbol | None = None
        self.source = "plan"
        self.seg_start = -1
        self.next_chord: ChordSymbol | None = None
        self._committed: tuple[int, ChordSymbol] | None = None  # (segment start, chord) committed ahead
        self.progression: list[ChordSymbol] = []  # chord of each segment so far
        self.corrections = 0
        self.played_chords = 0
        self._played_key: tuple | None = None
        self._last: ChordPlan | None = None
        self._heard_step = -1  # the latest step whose melody note hear_melody judged
        self._last_check: tuple | None = None
        self._mem_cache: dict = {}  # progression (length, last chords) -> its memory votes
        self._phrases: list[tuple[int, tuple, ChordSymbol]] = []  # (position in bar, melody, chord)
        self._form_listeners: dict = getattr(self, "_form_listeners", {})  # built once per meter
        for listener in self._form_listeners.values():
            listener.reset()
        self._forms: FormListener | None = None
        self._forms_meter: tuple | None = None  # (steps per bar, steps per segment, passing)
        self._forms_pending: tuple[int, int, int] | None = None  # (segment, start, end) to hear in full
        self._seg_len = 8
        if getattr(self, "ears", None) is not None:
            self.ears.reset()

    # ------------------------------------------------------------------ per step
    def plan(self, step: int, steps_per_bar: int, known_until: int, player: Sequence[PlayerNote],
             key_lock: int | None = None, melody: bool = True) -> ChordPlan:
        """The chord of `step` (planned while player input up to known_until is complete).
        melody=False: only the chords the player plays (no plan from the melody)."""
        self._listen_key(step, known_until, player, key_lock)
        seg = segment_steps(self.settings.harmonic_rhythm, steps_per_bar)
        self._seg_len = seg
        if self.ears is not None and melody:
            self.ears.hear(self._melody(player), known_until, steps_per_bar,
                           self.chord if self.source == "played" else None)
        seg_start = step - (step % steps_per_bar) % seg
        boundary = seg_start != self.seg_start
        same_meter = self._forms_meter == (steps_per_bar, seg, self.settings.passing)
        # the chord model alone needs none of the hand-written listeners' bookkeeping
        alone = self.ears is not None and self.settings.model_only
        forms = None if alone else self._form_listener(steps_per_bar, seg)  # (a new meter: a fresh one)
        if boundary and self.seg_start >= 0 and self.chord is not None:
            self.progression.append(self.chord)
            del self.progression[:-64]
            # remember the segment's melody with the chord it ended on: a phrase heard again
            # brings its chord back (songs repeat their lines)
            mel = self._segment_melody(player, self.seg_start, seg_start - 1)
            if mel and not alone:
                self._phrases.append((self.seg_start % steps_per_bar, mel, self.chord))
                del self._phrases[:-128]
            if forms is not None and same_meter:  # (a segment of another meter is not this one's)
                n = _segment_index(self.seg_start, steps_per_bar, seg)
                forms.observe(n, melody_evidence(self._melody(player), self.seg_start, seg_start - 1, steps_per_bar))
                self._forms_pending = (n, self.seg_start, seg_start - 1)
        if self._forms_pending is not None and known_until >= self._forms_pending[2] and self._forms is not None:
            n, a, b = self._forms_pending  # its last steps were inside the lookahead: heard now
            self._forms.revise(n, melody_evidence(self._melody(player), a, b, steps_per_bar))
            self._forms_pending = None
        prev = self.chord
        played = self._played(player, known_until)
        if played is not None:
            self.chord, self.source = played, "played"
        elif self.key is None or not melody:
            self.chord, self.source = None, "plan"
        elif boundary or self.chord is None:
            ahead = self._committed[1] if self._committed and self._committed[0] == seg_start else None
            self.chord = ahead or self._predict(seg_start, steps_per_bar, player, known_until, boundary)
            self.source = "plan"
        elif self.correct_mode == "any" and self.source != "played" and known_until >= self._heard_step:
            # (a note heard at once, after known_until, already judged this chord: no flip back)
            better = self._correct(seg_start, steps_per_bar, player, known_until)
            if better is not None:
                self.chord, self.source = better, "corrected"
                self.corrections += 1
        self.seg_start = seg_start
        nxt = seg_start + seg
        if self._committed is not None and self._committed[0] == nxt:
            self.next_chord = self._committed[1]  # committed: shown until it sounds
        elif step % STEPS_PER_BEAT == 0 or boundary or self.chord != prev or self._commit_due(step, nxt):
            self.next_chord = self._next(nxt, steps_per_bar, player, known_until)
            if self.next_chord is not None and melody and self._commit_due(step, nxt):
                self._committed = (nxt, self.next_chord)
        new = self.chord != prev
        self._last = ChordPlan(self.chord, self.next_chord, self.source, seg_start, new, nxt)
        return self._last

    @property
    def correct_mode(self) -> str:
        """The correction rule in force ("auto" resolved by the harmonic rhythm)."""
        c = self.settings.correct
        return c if c != "auto" else "any" if self.settings.harmonic_rhythm == "auto" else "clash"

    def _commit_due(self, step: int, next_start: int) -> bool:
        """The next segment's chord is committed commit_beats before it begins (ReaLJam's commit
        horizon): from then on it is what will sound, and what /liveai/chord/next shows."""
        beats = self.settings.commit_beats
        if beats is None:
            beats = 0.0 if self.settings.harmonic_rhythm == "auto" else 1.0
        ahead = round(beats * STEPS_PER_BEAT)
        return ahead > 0 and step >= next_start - ahead

    @property
    def last(self) -> ChordPlan | None:
        return self._last

    # ------------------------------------------------------------------ listening
    def _listen_key(self, step: int, known_until: int, player: Sequence[PlayerNote], key_lock: int | None) -> None:
        if not player:
            return
        melody = self._melody(player)
        if key_lock is not None:
            minor = self.key.minor if self.key else False
            self.key = Key(key_lock % 12, minor)
        elif step // STEPS_PER_BEAT != self._key_beat:
            self._key_beat = step // STEPS_PER_BEAT
            self.key = melody_key(melody, max(known_until, 0), self.key) if melody else self.key

    def _melody(self, player: Sequence[PlayerNote]) -> list[PlayerNote]:
        """The player's notes that carry the tune: above the split, and the top of struck chords."""
        sp = self.settings.split
        if sp is None:
            return list(player)
        return [n for n in player if n.pitch >= sp]

    def _played(self, player: Sequence[PlayerNote], known_until: int) -> ChordSymbol | None:
        """The chord the player holds now (struck together, or held below the split), if any."""
        held = [n for n in player[-16:] if n.start_step <= known_until + 1 and n.end_step is None]
        if not held:
            return None
        sp = self.settings.split
        if sp is not None:
            low = [n.pitch for n in held if n.pitch < sp]
            group = low if low else []
        else:
            latest = max(held, key=lambda n: (n.start_step, getattr(n, "time", 0.0)))
            t0 = getattr(latest, "time", None)
            win = self.settings.chord_window_s
            if t0 is not None and t0 > 0:
                group = [n.pitch for n in held if abs(getattr(n, "time", 0.0) - t0) <= win
                         or n.start_step == latest.start_step]
            else:
                group = [n.pitch for n in held if n.start_step == latest.start_step]
            if len(group) < 2:
                # an earlier chord still held under a new melody note keeps sounding
                older = [n for n in held if n is not latest]
                if len(older) >= 2:
                    first = min(older, key=lambda n: n.start_step)
                    group = [n.pitch for n in older if n.start_step == first.start_step]
        if len(group) < 2 and not (sp is not None and group):
            return None
        key = tuple(sorted(group))
        if key == self._played_key and self.source == "played":
            return self.chord
        c = recognize(group) if len(group) >= 2 else None
        if c is None:
            if len(group) == 1 and sp is not None and self.key is not None:
                c = self._single_finger(group[0])
            elif self.source == "played":
                return self.chord  # an unrecognised cluster keeps the chord (as arranger keyboards)
            else:
                return None
        if not self.settings.on_bass and c.bass is not None:
            c = ChordSymbol(c.root, c.quality)
        self._played_key = key
        if c != self.chord:
            self.played_chords += 1
        return c

    def hear_melody(self, player: Sequence[PlayerNote], step: int, steps_per_bar: int) -> ChordSymbol | None:
        """A melody note just struck on a beat that the planned chord cannot take (not one of its
        tones): the chord is corrected at once, from what has been heard of this segment with the
        new note counted as a beat long. Returns the new chord, or None (kept)."""
        if not player or self.chord is None or self.key is None or self.source == "played":
            return None
        n = player[-1]
        if n.start_step != step or step % STEPS_PER_BEAT or n.end_step is not None:
            return None
        if self.settings.split is not None and n.pitch < self.settings.split:
            return None
        at_start = step == self.seg_start and self.source == "plan"
        if self.correct_mode in ("clash", "beat"):
            # a committed chord changes only for a note that clashes with it, and only where the
            # harmonic rhythm allows a change (its first step; "beat": any beat)
            if not (at_start or self.correct_mode == "beat") or not clashes(n.pitch, self.chord):
                return None
        elif n.pitch % 12 in self.chord.pcs:
            # a chord tone confirms the chord, on its first step too (deciding it again there cut
            # the chord just struck: plansim on the tuning songs, 0.321 of beats against 0.319)
            return None
        self._heard_step = step
        if self.ears is not None:
            self.ears.peek(self._melody(player), step, steps_per_bar)
        # On a segment's first step the chord was only predicted: the downbeat note decides it
        # (no margin); later in the segment a committed chord changes only for a clear reason.
        better = self._correct(self.seg_start if self.seg_start >= 0 else step, steps_per_bar, player, step,
                               margin=0.0 if at_start else None, now=step)
        if better is None or (self.correct_mode != "any" and clashes(n.pitch, better)):
            return None
        self.chord, self.source = better, "corrected"
        self.corrections += 1
        self._last = ChordPlan(better, self.next_chord, "corrected", self.seg_start, True,
                               self._last.next_start if self._last else -1)
        return better

    def hear(self, player: Sequence[PlayerNote], step: int, min_notes: int = 3) -> ChordSymbol | None:
        """A chord the player has just struck (the reactive path: called as notes arrive, with the
        notes up to now). Returns it if it changes the harmony (it is the harmony from now on),
        else None. A group of fewer than min_notes notes waits (the rest of the chord may still be
        on its way); the engine asks again once the chord window has passed, with min_notes=2."""
        if not player:
            return None
        held = [n for n in player[-16:] if n.end_step is None]
        latest = max(held, key=lambda n: (n.start_step, n.time), default=None)
        if latest is None:
            return None
        if self.settings.split is None:
            group = [n for n in held if abs(n.time - latest.time) <= self.settings.chord_window_s]
            if len(group) < min_notes:
                return None
        c = self._played(player, step)
        if c is None or (c == self.chord and self.source == "played"):
            return None
        self.chord, self.source = c, "played"
        self._last = ChordPlan(c, self.next_chord, "played", self.seg_start, True,
                               self._last.next_start if self._last else -1)
        return c

    def _single_finger(self, pitch: int) -> ChordSymbol:
        """One note below the split: the key's chord on that root (a few keys drive full harmony)."""
        assert self.key is not None
        d = (pitch - self.key.tonic) % 12
        table = _PRIOR[self.key.minor]
        for q in ("maj", "min", "dim"):
            if (d, q) in table:
                return ChordSymbol(pitch % 12, q)
        return ChordSymbol(pitch % 12, "maj")

    # ------------------------------------------------------------------ deciding
    def _form_listener(self, steps_per_bar: int, seg: int) -> FormListener | None:
        """The progression recogniser for this meter and harmonic rhythm (a new one when they change)."""
        if self.settings.form_weight <= 0.0 or steps_per_bar % seg:
            return None
        if self._forms is None or self._forms_meter != (steps_per_bar, seg, self.settings.passing):
            key = (steps_per_bar // seg, self.settings.passing)
            if key not in self._form_listeners:
                self._form_listeners[key] = FormListener(key[0], form_fit(self.settings.passing))
            self._forms = self._form_listeners[key]
            self._forms.reset()  # a new meter: what was heard in the old one says nothing here
            self._forms_meter = (steps_per_bar, seg, self.settings.passing)
        return self._forms

    def _tables(self, key: Key) -> "_KeyTables":
        st = self.settings
        t = self._key_tables.get((key, st.passing, st.learnt_progressions))
        if t is None:
            t = self._key_tables[(key, st.passing, st.learnt_progressions)] = _KeyTables(
                key, st.passing, self.learnt, st.learnt_progressions)
        return t

    def _scores(self, seg_start: int, steps_per_bar: int, player: Sequence[PlayerNote], known_until: int,
                heard: np.ndarray, previous: ChordSymbol | None, at_boundary: bool,
                history: Sequence[ChordSymbol] = (), frames: tuple[int, int] | None = None) -> "_Ranked":
        """Every candidate chord scored: log P(chord | previous chord, bar position, this
        performance's progression so far) + how well it explains the melody heard; with a chord
        model, + its log P(triad) over the frames the chord will be held (alone: only that)."""
        assert self.key is not None
        tab = self._tables(self.key)
        st = self.settings
        model = None
        if self.ears is not None and frames is not None:
            model = np.log(self.ears.triads(*frames)[tab.form_index] + 1e-4)
            if st.model_only:
                return _Ranked(model, tab)
        pos = seg_start % steps_per_bar
        half = steps_per_bar // 2 if (steps_per_bar // STEPS_PER_BEAT) % 2 == 0 else -1
        st = self.settings
        p_stay = st.stay_bar if pos == 0 else st.stay_half if pos == half else st.stay_beat
        p = tab.transition(previous, p_stay)
        mkey = (len(history), tuple(history[-7:]))
        hit = self._mem_cache.get(mkey)
        if hit is None:  # the progression only grows: the plan and the lookahead ask for two at a time
            if len(self._mem_cache) >= 4:
                self._mem_cache.clear()
            hit = self._mem_cache[mkey] = self._memory(history)
        memory, trust = hit
        if memory:
            mem = np.array([memory.get(c, 0.0) for c in tab.chords])
            trust = min(trust, st.memory)
            p = (1.0 - trust) * p + trust * mem
        if pos == 0 and (seg_start // steps_per_bar) % 4 == 0:
            p = p * tab.tonic_boost  # phrases start on the tonic
        seg = segment_steps(st.harmonic_rhythm, steps_per_bar)
        forms = self._forms if self._forms_meter == (steps_per_bar, seg, st.passing) else None
        if forms is not None:
            sure, dist = forms.expect(_segment_index(seg_start, steps_per_bar, seg))
            w = st.form_weight * sure
            if w > 0.0:
                p = (1.0 - w) * p / p.sum() + w * dist[tab.form_index]
        score = np.log(p / p.sum() + 1e-3) + st.evidence * (tab.fit @ heard)
        if st.phrase_memory > 0.0:
            for c, strength in self._phrase_matches(player, seg_start, known_until, steps_per_bar).items():
                i = tab.index.get(ChordSymbol(c.root, TRIAD_QUALITY.get(c.quality, "maj")))
                if i is not None:
                    score[i] += st.phrase_memory * strength
        lis = self.listener() if self.listener is not None else None
        if lis is not None:
            q = np.log(np.clip(lis, 0.02, 0.98))
            score += st.listener_weight * (tab.triads @ q / 3.0 - q.mean())
        if model is not None:
            score = score + st.model_weight * model
        return _Ranked(score, tab)

    @staticmethod
    def _segment_melody(player: Sequence[PlayerNote], start: int, until: int) -> tuple:
        """The melody heard in steps [start, until] as (offset, pitch) pairs."""
        return tuple((n.start_step - start, n.pitch) for n in player[-24:] if start <= n.start_step <= until)

    def _phrase_matches(self, player: Sequence[PlayerNote], seg_start: int, known_until: int,
                        steps_per_bar: int) -> dict[ChordSymbol, float]:
        """Chords of earlier segments at the same place in the bar whose melody began as this
        segment's has so far (the longer the match, the stronger): 0..1 per chord."""
        if not self._phrases:
            return {}
        now = self._segment_melody(player, seg_start, known_until)
        if not now:
            return {}
        pos = seg_start % steps_per_bar
        votes: dict[ChordSymbol, float] = {}
        for where, mel, chord in self._phrases:
            if where != pos or len(mel) < len(now) or mel[:len(now)] != now:
                continue
            votes[chord] = votes.get(chord, 0.0) + 1.0
        tot = sum(votes.values())
        weight = min(1.0, len(now) / 2.0)  # one note is a weak hint, two or more a phrase
        return {c: weight * v / tot for c, v in votes.items()} if tot else {}

    @staticmethod
    def _memory(seq: Sequence[ChordSymbol]) -> tuple[dict[ChordSymbol, float], float]:
        """Chords that followed the latest chords earlier in this performance (the longest match of
        the last two to six segment chords of seq, holding at least one change): forms repeat, and
        so do their progressions. Returns the votes and how much to trust them."""
        if len(seq) < 4:
            return {}, 0.0
        votes: dict[ChordSymbol, float] = {}
        used = 0
        for order in (6, 5, 4, 3, 2):
            if len(seq) <= order:
                continue
            ctx = list(seq[-order:])
            if all(c == ctx[0] for c in ctx):
                continue
            for i in range(len(seq) - order - 1, -1, -1):
                if list(seq[i:i + order]) == ctx:
                    nxt = seq[i + order]
                    votes[nxt] = votes.get(nxt, 0.0) + 1.0
            if votes:
                used = order
                break
        tot = sum(votes.values())
        if not tot:
            return {}, 0.0
        trust = min(1.0, 0.1 * used * tot)  # long contexts seen several times: a repeated form
        return {c: v / tot for c, v in votes.items()}, trust

    def _predict(self, seg_start: int, steps_per_bar: int, player: Sequence[PlayerNote], known_until: int,
                 boundary: bool) -> ChordSymbol:
        """The chord of a segment about to start: progression and position; the melody heard of the
        segment so far (usually none yet) and, weakly, the notes leading into it."""
        melody = self._melody(player)
        heard = melody_evidence(melody, seg_start, known_until, steps_per_bar)
        lead = melody_evidence(melody, max(0, seg_start - STEPS_PER_BEAT), min(known_until, seg_start - 1),
                               steps_per_bar)
        heard = heard + 0.3 * lead
        frames = (seg_start, seg_start + self._seg_len)
        if self.chord is None and not self.progression and (self.ears is None or self.ears.last < 0):
            assert self.key is not None  # the very first chord, nothing heard: the tonic
            return ChordSymbol(self.key.tonic, "min" if self.key.minor else "maj")
        best = self._scores(seg_start, steps_per_bar, player, known_until, heard, self.chord, True,
                            self.progression, frames).best[1]
        return self._voiced(best, frames)

    def _voiced(self, triad: ChordSymbol, frames: tuple[int, int]) -> ChordSymbol:
        """The chord to play for a chosen triad: the model's seventh, sus or slash bass if it has one."""
        if self.ears is None or not self.settings.model_voicing:
            return triad
        return self.ears.voiced(triad, *frames)

    def _correct(self, seg_start: int, steps_per_bar: int, player: Sequence[PlayerNote],
                 known_until: int, margin: float | None = None, now: int | None = None) -> ChordSymbol | None:
        """Within a segment: a better chord once the melody clearly contradicts the committed one."""
        melody = self._melody(player)
        heard = melody_evidence(melody, seg_start, known_until, steps_per_bar)
        if not heard.any() or self.chord is None:
            return None
        key = (seg_start, self.chord, self.key, margin, heard.tobytes())
        if key == self._last_check:
            return None  # nothing new heard since this chord was last judged
        self._last_check = key
        prev = self.progression[-1] if self.progression else None
        seg_end = seg_start + self._seg_len
        first = max(seg_start, known_until + 1 if now is None else now)
        frames = (min(first, seg_end - 1), seg_end)
        scores = self._scores(seg_start, steps_per_bar, player, known_until, heard, prev, True,
                              self.progression, frames)
        best_s, best = scores.best
        cur = scores.score_of(self.chord)
        if cur is None:
            tab = self._tables(self.key)
            i = tab.index.get(ChordSymbol(self.chord.root, TRIAD_QUALITY.get(self.chord.quality, "maj")))
            cur = self.settings.evidence * (float(tab.fit[i] @ heard) if i is not None
                                            else fit(self.chord, heard, self.settings.passing))
        if best != _triad_of(self.chord) and best_s - cur >= (self.settings.change_margin if margin is None else margin) \
                and best_s > cur:
            return self._voiced(best, frames)
        return None

    def _next(self, next_start: int, steps_per_bar: int, player: Sequence[PlayerNote],
              known_until: int) -> ChordSymbol | None:
        """The lookahead: the chord the plan expects after this segment (shown, not yet committed)."""
        if self.key is None or self.chord is None:
            return None
        melody = self._melody(player)
        lead = melody_evidence(melody, max(0, known_until - STEPS_PER_BEAT), known_until, steps_per_bar)
        frames = (next_start, next_start + self._seg_len)
        scores = self._scores(next_start, steps_per_bar, player, known_until, 0.3 * lead, self.chord, True,
                              self.progression + [self.chord], frames)
        return self._voiced(scores.best[1], frames)
