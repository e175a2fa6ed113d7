"""Measuring what the band plays.

- online: drive a generator step by step exactly as the engine would (run_online) and the first
  scores (note_in_chord, bars_with_notes); the engine imports LOOKAHEAD_STEPS and visible_player
  from here, so this package's import stays light (no music21, no subprocesses).
- harmony: the metrics of issue 13 as pure functions on grid notes (precision, recall, F1, implied
  chord, distinct, echo, bass on the root; parallels and voice crossings for four-part writing).
- tunes: annotated tunes (melody and chord symbols) rendered to MIDI with chord markers.
- references: reference accompanists (block triads of the true chord, tonic drone, Bach's parts).
- runner: the tunes through `liveai demo --fast`, read back and scored; `python -m liveai.evaluation`.
"""
from liveai.evaluation.online import (LOOKAHEAD_STEPS, GridNote, bars_with_notes, note_in_chord,
                                      plan_to_notes, run_online, visible_player)

__all__ = ["LOOKAHEAD_STEPS", "GridNote", "bars_with_notes", "note_in_chord", "plan_to_notes",
           "run_online", "visible_player"]
