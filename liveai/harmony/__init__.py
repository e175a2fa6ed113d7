"""Harmony: the model's chord vocabulary, chords the player plays, the chord plan ahead, and voicing.

Pure functions and small immutable values (the chord type itself, ChordSymbol, is in
liveai.music.theory); the engine asks the planner for the chord of each step and hands it to every
generator in StepContext.chord, so every pitched part follows one plan.
"""
