"""Harmony: the chord vocabulary, chords the player plays, the chord plan ahead, and voicing.

Pure functions and small immutable values; the engine asks the planner for the chord of each step
and hands it to every generator in StepContext.chord, so every pitched part follows one plan.
"""
