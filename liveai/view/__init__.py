"""Hearing and seeing what the band plays: GM programs, the FluidSynth helper, the terminal live
view and the SVG piano roll of a take."""
