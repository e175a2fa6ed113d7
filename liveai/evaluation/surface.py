"""The band's surface, as a player hears it: notes that stutter, chords struck and cut, changes off
the harmonic rhythm, a next chord that is not the chord that comes, a late first downbeat, a take
that is not what was sent (issue 28).

One run of the demo's own session on the simulated clock, in this process: the events every output
got (the session's sink is an output like a synth), the take the recorder made of them, and the
engine's chord and next chord as `/liveai/chord` and `/liveai/chord/next` answer them (the same
status call), read at each step's due time.

    python -m liveai.evaluation.surface [--band pop,ballad,rock] [--harmonic-rhythm bar] [--real N]
"""
from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from liveai.io.recorder import PPQ

HELD = ("pad",)  # parts whose patterns hold each chord (the comp too where its style says legato)
SHORT = 1.0  # a note this many 16ths long or less is a stutter in a held part


@dataclass
class WireNote:
    part: str
    channel: int
    pitch: int
    velocity: int
    start: float  # seconds
    end: float


@dataclass
class SurfaceRun:
    """What one run sent and showed."""

    step_s: float
    steps_per_bar: int
    wire: list[WireNote]
    take: list[tuple[str, int, int, int, int]]  # (track, channel, pitch, start tick, end tick)
    chords: list[str]  # the chord shown at each step's due time
    nexts: list[str]  # the next chord shown then
    first_player_step: int | None  # the transport's step 0 is the player's first note
    first_band_step: int | None
    legato: set[str] = field(default_factory=set)
    unpaired: int = 0  # hung notes and stray note-offs on the wire
    take_start: float = 0.0  # the clock time of the take's tick 0
    tick_s: float = 1.0  # seconds per tick of the take

    def tick(self, t: float) -> int:
        return int(round((t - self.take_start) / self.tick_s))


def unpaired(events: Sequence[tuple[float, Any]]) -> int:
    """Note-ons the wire never ended (a hung note) and note-offs of nothing sounding."""
    open_: dict[tuple[int, int], int] = {}
    stray = 0
    for _, ev in events:
        k = (ev.channel, ev.data1)
        if ev.kind == "on":
            open_[k] = open_.get(k, 0) + 1
        elif ev.kind == "off":
            if open_.get(k, 0) > 0:
                open_[k] -= 1
            else:
                stray += 1
    return stray + sum(open_.values())


def wire_notes(events: Sequence[tuple[float, Any]]) -> list[WireNote]:
    """Pair the note-ons and note-offs every output got (per channel and pitch, first in first out)."""
    open_: dict[tuple[int, int], list[tuple[float, Any]]] = {}
    out: list[WireNote] = []
    for t, ev in events:
        if ev.kind == "on":
            open_.setdefault((ev.channel, ev.data1), []).append((t, ev))
        elif ev.kind == "off":
            q = open_.get((ev.channel, ev.data1))
            if q:
                t0, on = q.pop(0)
                out.append(WireNote(on.part.split(".")[0], on.channel, on.data1, on.data2, t0, t))
    return out


def take_notes(path: str | Path) -> list[tuple[str, int, int, int, int]]:
    """The take's notes as (track, channel, pitch, start tick, end tick)."""
    import mido
    mid = mido.MidiFile(str(path))
    out = []
    for tr in mid.tracks:
        t, open_ = 0, {}
        for msg in tr:
            t += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                open_.setdefault((msg.channel, msg.note), []).append(t)
            elif msg.type in ("note_off", "note_on") and open_.get((msg.channel, msg.note)):
                out.append((tr.name, msg.channel, msg.note, open_[(msg.channel, msg.note)].pop(0), t))
    return out


def run(inp: str | Path, band: str | None, harmonic_rhythm: str | None = None, seed: int = 1,
        extra: dict[str, Any] | None = None) -> SurfaceRun:
    """The demo of `inp` on the simulated clock, with a take, watched."""
    from liveai.app.run import schedule_player
    from liveai.control.config import make_config
    from liveai.app.session import build_session
    from liveai.music.tunes import read_midi
    from liveai.timing.clock import SimClock
    from liveai.music.meter import Meter

    part = read_midi(inp)
    o: dict[str, Any] = {"tempo": part.tempo, "start_now": False, "show": False, "seed": seed, **(extra or {})}
    if part.meter:
        o["meter"] = str(part.meter)
    if band:
        o["band"] = band
    if harmonic_rhythm:
        o["harmonic_rhythm"] = harmonic_rhythm
    cfg = make_config(None, o)
    clock = SimClock()
    session = build_session(cfg, clock, clock, [], record=True)
    eng = session.engine
    chords: dict[int, tuple[str, str]] = {}

    ahead = eng.settings.lookahead_steps

    def watch(k: int) -> None:
        # half way through step k the planner holds the plan of step k + lookahead (and any
        # correction a note of step k made): what /liveai/chord says then is that step's chord
        st = eng.status()
        heard = st.get("chord_source") in ("corrected", "played")  # heard during step k: it sounds from k
        chords[k + (0 if heard else ahead)] = (st.get("chord", ""), st.get("next_chord", ""))
        if eng.transport.running:
            clock.call_at(eng.transport.time_of_step(k + 1.5), watch, k + 1)

    started = eng.start

    def start(*a, **kw):  # the transport starts with the player's first note: watch from step 0
        started(*a, **kw)
        clock.call_at(eng.transport.time_of_step(0.5), watch, 0)
    eng.start = start
    bar_s = Meter.parse(cfg.meter).steps_per_bar * 15.0 / cfg.tempo
    end = schedule_player(session, part.events_at(cfg.tempo), 1.0, bar_s)
    clock.call_at(end, eng.stop_transport)
    clock.call_at(end + 0.01, clock.stop)
    clock.run()
    eng.shutdown()
    with tempfile.TemporaryDirectory() as tmp:
        take = Path(tmp) / "take.mid"
        session.recorder.save(str(take))
        tnotes = take_notes(take)
    rec = session.recorder
    tick_s = 60.0 / rec.bpm / PPQ
    t0 = eng.transport.time_of_step(0)
    step_s = eng.transport.step_seconds
    events = list(session.sink.events)
    wire = wire_notes(events)
    band_notes = [n for n in wire if n.part != "player"]
    first = (lambda ns: None if not ns else round((min(n.start for n in ns) - t0) / step_s))
    n = max(chords) + 1 if chords else 0
    for k in range(1, n):  # a step without its own reading sounds what the one before it did
        chords.setdefault(k, chords.get(k - 1, ("", "")))
    style = getattr(getattr(eng, "band", None), "style", None)
    legato = {p for p, spec in (style.parts.items() if style else ()) if getattr(spec, "legato", False)}
    return SurfaceRun(step_s, eng.transport.steps_per_bar, band_notes,
                      [x for x in tnotes if x[0] != "player"],
                      [chords.get(k, ("", ""))[0] for k in range(n)], [chords.get(k, ("", ""))[1] for k in range(n)],
                      0, first(band_notes), legato, unpaired(events), rec.start or 0.0, tick_s)


def measure(r: SurfaceRun, harmonic_rhythm: str | None = None) -> dict[str, float]:
    """The issue's figures for one run."""
    out: dict[str, float] = {}
    out["notes"] = len(r.wire)
    out["zero_length"] = sum(1 for n in r.wire if n.end - n.start <= 1e-9)
    out["unpaired"] = r.unpaired
    held = [n for n in r.wire if n.part in HELD or n.part in r.legato and n.part != "bass"]
    out["held_notes"] = len(held)
    out["held_short"] = sum(1 for n in held if (n.end - n.start) / r.step_s <= SHORT + 1e-6)
    # the take against the wire: every note with its length, to the take's tick
    from collections import Counter
    wire = Counter((n.channel, n.pitch, r.tick(n.start), r.tick(n.end)) for n in r.wire)
    take = Counter((ch, p, a, b) for _, ch, p, a, b in r.take)
    out["take_missing"] = sum((wire - take).values())
    out["take_extra"] = sum((take - wire).values())
    changes = [k for k in range(1, len(r.chords)) if r.chords[k] and r.chords[k - 1] and r.chords[k] != r.chords[k - 1]]
    out["changes"] = len(changes)
    out["announced"] = sum(1 for k in changes if k >= 4 and r.nexts[k - 4] == r.chords[k])
    spb = r.steps_per_bar
    seg = {"bar": spb, "half": spb // 2, "beat": 4}.get(harmonic_rhythm or "", None)
    if seg:
        out["off_rhythm"] = sum(1 for k in changes if (k % spb) % seg)
    if r.first_player_step is not None and r.first_band_step is not None:
        out["first_band_step"] = r.first_band_step - (r.first_player_step // spb) * spb
    return out


def summary(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    tot: dict[str, float] = {}
    for row in rows:
        for k, v in row.items():
            tot[k] = tot.get(k, 0) + v
    s = {k: tot[k] for k in ("notes", "zero_length", "unpaired", "held_notes", "held_short", "take_missing", "take_extra",
                             "changes", "announced") if k in tot}
    s["held_short_share"] = tot.get("held_short", 0) / max(1, tot.get("held_notes", 0))
    s["announced_share"] = tot.get("announced", 0) / max(1, tot.get("changes", 0))
    if "off_rhythm" in tot:
        s["on_rhythm_share"] = 1 - tot["off_rhythm"] / max(1, tot["changes"])
    late = [row["first_band_step"] for row in rows if "first_band_step" in row]
    s["late_first_downbeat"] = sum(1 for x in late if x != 0)
    return s


def inputs(real: int, tunes: bool, tmp: Path) -> list[Path]:
    """The eleven tunes (melody only) and N validation songs of each real source, as input files."""
    from liveai.evaluation.runner import all_tune_cases
    cases = list(all_tune_cases(variants=("melody",))) if tunes else []
    if real:
        from liveai.evaluation.realsongs import real_cases
        cases += real_cases(real, 16)
    return [c.write_input(tmp / f"{c.key}.mid") for c in cases]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m liveai.evaluation.surface", description=__doc__.split("\n")[0])
    ap.add_argument("--band", default="pop,ballad,rock", help="comma-separated band styles")
    ap.add_argument("--harmonic-rhythm", default=None, choices=("auto", "beat", "half", "bar"))
    ap.add_argument("--real", type=int, default=3, help="validation songs of each real source (16 bars each)")
    ap.add_argument("--no-tunes", action="store_true", help="only the real songs")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        files = inputs(a.real, not a.no_tunes, Path(tmp))
        result = {}
        for band in a.band.split(","):
            rows = [measure(run(f, band, a.harmonic_rhythm), a.harmonic_rhythm) for f in files]
            result[band] = summary(rows)
            print(f"{band:8s} " + "  ".join(f"{k} {v:.3g}" for k, v in result[band].items()), flush=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
