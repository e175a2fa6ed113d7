"""Issue 13's acceptance thresholds as data, and checking a table of means against them.

melody: tunes played as a melody only; chords: with left-hand block chords; chorales: held-out
chorales. On the melody-only tunes the model must also beat the rules accompanist on every metric
listed (lower is better for echo)."""
from __future__ import annotations

TARGETS: dict[str, dict[str, tuple[str, float]]] = {
    "melody": {"implied_ensemble": (">=", 0.75), "implied_alone": (">=", 0.70), "f1": (">=", 0.80),
               "distinct": (">=", 2.3), "echo": ("<=", 0.40), "bass_root": (">=", 0.70)},
    "chords": {"implied_alone": (">=", 0.95), "f1": (">=", 0.90), "bass_root": (">=", 0.90)},
    "chorales": {"distinct": (">=", 2.3), "parallels": ("<=", 3.5)},
}
BEAT_RULES_ON = ("melody",)
LOWER_IS_BETTER = ("echo", "parallels", "crossings")


def check(group: str, means: dict[str, dict[str, float]], who: str = "model") -> list[tuple[str, float, str, bool]]:
    """(metric, value, wanted, met) for each target of a group, for one accompanist; in groups of
    BEAT_RULES_ON also 'beats rules' per metric."""
    got = means.get(who, {})
    out = []
    for m, (op, v) in TARGETS.get(group, {}).items():
        if m not in got:
            continue
        x = got[m]
        ok = x >= v if op == ">=" else x <= v
        out.append((m, x, f"{op} {v:g}", ok))
        if group in BEAT_RULES_ON and "rules" in means and m in means["rules"] and who != "rules":
            r = means["rules"][m]
            better = x < r if m in LOWER_IS_BETTER else x > r
            out.append((m, x, f"beats rules ({r:.2f})", better))
    return out


def summary(group: str, means: dict[str, dict[str, float]], who: str = "model") -> str:
    rows = check(group, means, who)
    if not rows:
        return ""
    met = sum(ok for *_, ok in rows)
    cells = ", ".join(f"{m} {x:.2f} {want} {'ok' if ok else 'NO'}" for m, x, want, ok in rows)
    return f"issue 13 targets for {who}: {met}/{len(rows)} met ({cells})"
