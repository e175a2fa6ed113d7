"""The planner's ears on the chord model: each complete frame heard once and in order, the
segment's probabilities read at the right horizons, a note just struck peeked without keeping it."""
from __future__ import annotations

import numpy as np

from liveai.music.theory import ChordSymbol
from liveai.harmony.chordvocab import N_CLASSES, chord_index
from liveai.harmony.modelears import ModelEars, melody_frame
from liveai.harmony.planner import HarmonyPlanner, PlannerSettings
from liveai.music.notes import PlayerNote

H = 17


class ScriptedModel:
    """A chord model that predicts, at every horizon d, chord class `script(frame + d)` with
    certainty, and records the frames it hears (the ears' contract, without a network)."""

    def __init__(self, script):
        self.script = script
        self.heard: list[tuple] = []
        self.reset()

    def reset(self):
        self.heard = []
        self.probs = np.full((H, N_CLASSES), 1.0 / N_CLASSES, np.float32)
        self.bass = np.zeros((H, 12), np.float32)

    def _probs(self, frame):
        p = np.full((H, N_CLASSES), 1e-6, np.float32)
        for d in range(H):
            p[d, self.script(frame + d)] = 1.0
        return p / p.sum(-1, keepdims=True)

    def step(self, pitch, onset, pos, spb, played=None, anchor=0):
        self.heard.append((pitch, onset, pos, played))
        self.probs = self._probs(len(self.heard) - 1)

    def peek(self, pitch, onset, pos, spb, played=None, anchor=0):
        return self._probs(len(self.heard))


def test_melody_frame_top_note_and_onset():
    notes = [PlayerNote(60, 80, 0, 4), PlayerNote(67, 80, 2, None), PlayerNote(64, 80, 2, 3)]
    assert melody_frame(notes, 0) == (60, True)
    assert melody_frame(notes, 2) == (67, True)
    assert melody_frame(notes, 5) == (67, False)
    assert melody_frame([PlayerNote(60, 80, 0, 2)], 3) == (None, False)


def test_each_complete_frame_is_heard_once_in_order():
    m = ScriptedModel(lambda f: 0)
    ears = ModelEars(m)
    notes = [PlayerNote(60, 80, 0, 2), PlayerNote(62, 80, 4, 6)]
    ears.hear(notes, 3, 16)
    ears.hear(notes, 3, 16)  # nothing new
    ears.hear(notes, 5, 16)
    assert [h[0] for h in m.heard] == [60, 60, None, None, 62, 62]
    assert [h[2] for h in m.heard] == [0, 1, 2, 3, 4, 5]
    assert ears.last == 5


def test_segment_probabilities_use_the_horizon_of_each_frame():
    C, G = chord_index(ChordSymbol(0)), chord_index(ChordSymbol(7))
    m = ScriptedModel(lambda f: C if f < 8 else G)  # the chord changes at frame 8
    ears = ModelEars(m)
    ears.hear([PlayerNote(60, 80, 0, None)], 1, 16)  # frames 0, 1 heard
    p = ears.class_probs(4, 12)  # half C (4..7), half G (8..11)
    assert abs(p[C] - 0.5) < 1e-3 and abs(p[G] - 0.5) < 1e-3
    tri = ears.triads(8, 16)
    assert tri.argmax() == 7 * 3  # G major in forms' order


def test_the_model_alone_plans_what_it_predicts():
    G = chord_index(ChordSymbol(7, "7"))
    m = ScriptedModel(lambda f: G)
    planner = HarmonyPlanner(PlannerSettings(model_only=True, form_weight=0.0), chord_model=m)
    notes = [PlayerNote(67, 80, 0, 4), PlayerNote(71, 80, 4, 8), PlayerNote(74, 80, 8, 12)]
    for s in range(12):
        planner.plan(s, 16, s - 2, [n for n in notes if n.start_step <= s - 2])
    assert planner.chord == ChordSymbol(7, "7")  # the triad chosen, voiced as the model's seventh
