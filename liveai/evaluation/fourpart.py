"""Four-part writing measured on a grid: parallel fifths and octaves between any two of soprano,
alto, tenor and bass, and notes outside each voice's usual range (the chorale checks of issue 13)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


USUAL_RANGES = {"soprano": (60, 81), "alto": (55, 74), "tenor": (48, 69), "bass": (40, 62)}


def voice_leading(notes: Sequence[Any], soprano: Sequence[Any], T: int) -> dict:
    """Parallel fifths/octaves between any two of the four parts (on steps where both move), and
    notes outside the usual ranges per part."""
    parts = {"soprano": np.zeros(T, int), "alto": np.zeros(T, int), "tenor": np.zeros(T, int),
             "bass": np.zeros(T, int)}
    for n in soprano:
        parts["soprano"][n.start_step:min(n.end_step or T, T)] = n.pitch
    for n in notes:
        parts[n.voice][n.start:min(n.end, T)] = n.pitch
    names = list(parts)
    par5 = par8 = 0
    for a in range(4):
        for b in range(a + 1, 4):
            x, y = parts[names[a]], parts[names[b]]
            for k in range(1, T):
                if not (x[k] and y[k] and x[k - 1] and y[k - 1]):
                    continue
                if x[k] == x[k - 1] or y[k] == y[k - 1]:
                    continue
                i0, i1 = (x[k - 1] - y[k - 1]) % 12, (x[k] - y[k]) % 12
                if i0 == i1 == 7:
                    par5 += 1
                elif i0 == i1 == 0:
                    par8 += 1
    oor = {}
    for v in ("alto", "tenor", "bass"):
        vs = [n for n in notes if n.voice == v]
        lo, hi = USUAL_RANGES[v]
        oor[v] = sum(not (lo <= n.pitch <= hi) for n in vs)
    return {"parallel_fifths": par5, "parallel_octaves": par8, "out_of_range": oor,
            "notes": len(notes)}
