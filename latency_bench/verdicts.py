"""The bench's targets as verdicts judged against controls measured in the same run (issue 25).

This machine is shared and stalls; an absolute timing figure from a stalled run says nothing about
liveai. So every target is a ratio to a control of the same run (cyclictest's p99, the rules
generator's sender lateness, isobar in the same rig, the JACK period), and a run whose control is
itself noisy gives no verdict on a miss: it says "WITHHELD: machine noisy" (and the bench repeats
it) instead of failing. A target met is met whatever the noise.

A control is noisy when cyclictest's p99 in the run is above NOISY_CYCLICTEST_P99_US (the OS could
not wake a real-time thread on time: nothing running beside it could have been on time either), or
when the JACK rig's own reference cycles stalled by more than NOISY_RIG_GAP_MS.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

PERIOD_MS = 32 / 48  # the bench's JACK period: 32 frames at 48 kHz
NOISY_CYCLICTEST_P99_US = 2000.0
NOISY_RIG_GAP_MS = 20.0
MODEL_OVER_RULES = 1.2  # sender lateness p99, model path / rules path
WEB_OVER_NONE = 1.2  # the page's cost (issue 27), within the timing issue's limit
PEER_LIMITS = {True: 1.0, False: 1.2}  # liveai p99 / isobar p99, server real-time / not

PASS, FAIL, WITHHELD, NOT_RUN = "PASS", "FAIL", "WITHHELD", "NOT RUN"


@dataclass(frozen=True)
class Verdict:
    """One target's outcome: what was asked, the figure, and PASS, FAIL, WITHHELD or NOT RUN."""

    outcome: str
    target: str
    figure: str = ""

    def line(self) -> str:
        note = " (machine noisy: the control stalled in this run)" if self.outcome == WITHHELD else ""
        return f"{self.outcome:<8}  {self.target}" + (f": {self.figure}" if self.figure else "") + note


def _num(r: dict, key: str) -> float:
    v = r.get(key, float("nan"))
    return float(v) if isinstance(v, (int, float)) else float("nan")


def noisy(r: dict) -> str | None:
    """Why this run's control is noisy, or None when it is quiet enough to judge timing."""
    cyc = _num(r, "os_timer_p99_us")
    if not math.isnan(cyc) and cyc > NOISY_CYCLICTEST_P99_US:
        return f"cyclictest p99 {cyc / 1000:.2f} ms > {NOISY_CYCLICTEST_P99_US / 1000:.0f} ms"
    gap = _num(r, "rig_max_cycle_gap_ms")
    if not math.isnan(gap) and gap > NOISY_RIG_GAP_MS:
        return f"the JACK rig's cycles stalled {gap:.0f} ms > {NOISY_RIG_GAP_MS:.0f} ms"
    return None


def judge(ok: bool | None, target: str, figure: str, quiet: bool) -> Verdict:
    """ok None: not measured. A miss on a noisy run is withheld, not failed."""
    if ok is None:
        return Verdict(NOT_RUN, target, figure)
    return Verdict(PASS if ok else (FAIL if quiet else WITHHELD), target, figure)


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 and not math.isnan(a) and not math.isnan(b) else float("nan")


def verdicts(r: dict) -> list[Verdict]:
    """Every target of the bench, judged on the run's figures (the dict latency_bench.run fills)."""
    quiet = noisy(r) is None
    ms = lambda us: f"{us / 1000:.3f} ms"  # noqa: E731
    out: list[Verdict] = []
    cyc = _num(r, "os_timer_p99_us")
    lim = max(1000.0, 1.5 * cyc) if not math.isnan(cyc) else 1000.0
    sj = _num(r, "scheduler_jitter_p99_us")
    out.append(judge(sj <= lim if not math.isnan(sj) else None,
                     f"sender lateness p99 <= max(1 ms, 1.5 x cyclictest p99 of the run) = {lim / 1000:.3f} ms",
                     ms(sj), quiet))
    rules = _num(r, "control_scheduler_jitter_p99_us")
    ratio = _ratio(sj, rules)
    out.append(judge(None if math.isnan(ratio) else ratio <= MODEL_OVER_RULES,
                     f"sender lateness p99, {r.get('generator', 'model')} over rules, same run <= {MODEL_OVER_RULES}",
                     f"{ratio:.2f} ({ms(sj)} / {ms(rules)})" if not math.isnan(ratio) else "no rules control", quiet))
    two = 2 * PERIOD_MS * 1000
    for key, name in (("reactive_latency", "reactive (--thru)"), ("harmonize_latency", "harmonize")):
        p50, p99 = _num(r, f"{key}_p50_us"), _num(r, f"{key}_p99_us")
        over = _ratio(p99, cyc)
        out.append(judge(None if math.isnan(p50) else p50 <= two,
                         f"{name} p50 <= 2 JACK periods ({two / 1000:.3f} ms)",
                         f"p50 {ms(p50)}, p99 {ms(p99)} = {over:.2f} x cyclictest p99", quiet))
    step = _num(r, "model_step_p99_us")
    out.append(judge(None if math.isnan(step) else step <= 1000, "model step p99 <= 1 ms", ms(step), quiet))
    cpu = _num(r, "cpu_percent_playing")
    out.append(judge(None if math.isnan(cpu) else cpu <= 25, "CPU while playing <= 25% of one core", f"{cpu:.1f}%", quiet))
    up = _num(r, "startup_s")
    out.append(judge(None if math.isnan(up) else up <= 3.0, "start-up <= 3 s", f"{up:.2f} s", quiet))
    if "web_jitter_p99_with_us" in r:  # --web: the page's cost, the same load phase with and without it
        w = _num(r, "web_p99_ratio")
        out.append(judge(None if math.isnan(w) else w <= WEB_OVER_NONE,
                         f"sender lateness p99 with the web page LISTENing over without it, same run <= {WEB_OVER_NONE}",
                         f"{w:.2f} ({ms(_num(r, 'web_jitter_p99_with_us'))} / {ms(_num(r, 'web_jitter_p99_without_us'))})",
                         quiet))
    for key, rt in (("peer_rt", True), ("peer_nort", False)):
        res = r.get(key)
        target = (f"liveai p99 / isobar p99 <= {PEER_LIMITS[rt]:.1f}, same rig, alternating, server "
                  f"{'real-time' if rt else 'not real-time'}")
        if not isinstance(res, dict) or "error" in res or "median_ratio" not in res:
            out.append(Verdict(NOT_RUN, target, (res or {}).get("error", "not run") if isinstance(res, dict) else "not run"))
            continue
        cycs = sorted(x.get("cyclictest_p99_us", float("nan")) for x in res.get("runs", []))
        peer_quiet = bool(cycs) and cycs[len(cycs) // 2] <= NOISY_CYCLICTEST_P99_US
        out.append(judge(res["median_ratio"] <= PEER_LIMITS[rt], target, f"median ratio {res['median_ratio']:.2f}",
                         peer_quiet))
    return out


def exit_status(vs: list[Verdict], strict: bool) -> int:
    """0 unless a target failed. --strict: every target must be measured and pass (a withheld or
    unmeasured one fails it too)."""
    if strict:
        return 0 if all(v.outcome == PASS for v in vs) else 1
    return 1 if any(v.outcome == FAIL for v in vs) else 0
