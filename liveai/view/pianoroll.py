"""`liveai show`: a take as a plain SVG piano roll, readable at a glance for a 32-bar take.

One colour per part, the player's notes drawn last (on top, outlined), bar lines with numbers, and
two chord lanes above the roll: the chords the band played (named from the band's pitch classes,
one per bar, or per half bar where the halves differ) and, when known, the true chords (marker
events in the file, or `--chords FILE`). Every note is a <rect class="note"> with its part, pitch
and times as data attributes and a <title> for hovering; every chord a <text class="chord">.
No plotting library: the SVG is written by hand (xml.sax.saxutils escapes the text).
"""
from __future__ import annotations

import bisect
import functools
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable
from xml.sax.saxutils import escape, quoteattr

import mido

from liveai.music.theory import NOTE_NAMES
from liveai.view.chordname import chord_name, parse_chord, recognise

PLAYER = "player"
COLOURS = {  # part -> fill (colour-blind-safe Okabe-Ito hues where they go)
    "bass": "#0072B2", "tenor": "#009E73", "alto": "#E69F00", "melody": "#CC79A7", "comp": "#56B4E9",
    "pad": "#F0E442", "arp": "#D55E00", "drums": "#999999", "lead": "#882255", PLAYER: "#222222",
}
PALETTE = ("#44AA99", "#AA4499", "#117733", "#332288", "#DDCC77", "#88CCEE", "#661100")


@dataclass(frozen=True)
class Note:
    part: str
    pitch: int
    start: int  # ticks
    end: int
    velocity: int
    channel: int


@dataclass
class Take:
    notes: list[Note]
    ticks_per_beat: int
    beats_per_bar: float  # in quarter notes
    meter: tuple[int, int]
    markers: list[tuple[int, str]]  # (tick, text) of marker meta events: the true chords
    parts: list[str]  # in file order, player first when present

    @property
    def bar_ticks(self) -> int:
        return int(round(self.ticks_per_beat * self.beats_per_bar))

    @functools.cached_property
    def end(self) -> int:
        """The last note's end (read once: a take is drawn as read; asked per note and per chord,
        a scan of every note here made `liveai show` quadratic in the take's length)."""
        return max((n.end for n in self.notes), default=0)

    @property
    def bars(self) -> int:
        return max(1, math.ceil(self.end / self.bar_ticks))


def read_take(path: str | os.PathLike) -> Take:
    """Notes per track (the track's name is the part: the recorder names them), meter, markers."""
    mf = mido.MidiFile(path)
    notes: list[Note] = []
    markers: list[tuple[int, str]] = []
    meter = (4, 4)
    parts: list[str] = []
    for i, track in enumerate(mf.tracks):
        name = track.name or f"track {i}"
        tick = 0
        open_: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for msg in track:
            tick += msg.time
            if msg.type == "time_signature" and tick == 0:
                meter = (msg.numerator, msg.denominator)
            elif msg.type == "marker":
                markers.append((tick, msg.text))
            elif msg.type == "note_on" and msg.velocity > 0:
                open_.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
            elif msg.type in ("note_on", "note_off"):
                stack = open_.get((msg.channel, msg.note))
                if stack:
                    t0, vel = stack.pop(0)
                    notes.append(Note(name, msg.note, t0, max(tick, t0 + 1), vel, msg.channel))
        for (ch, p), stack in open_.items():  # a file with unclosed notes: they end with the track
            for t0, vel in stack:
                notes.append(Note(name, p, t0, max(tick, t0 + 1), vel, ch))
        if any(n.part == name for n in notes) and name not in parts:
            parts.append(name)
    parts.sort(key=lambda p: p != PLAYER)
    return Take(notes, mf.ticks_per_beat, meter[0] * 4 / meter[1], meter, sorted(markers), parts)


def band_chords(take: Take) -> list[tuple[int, int, str]]:
    """(start tick, end tick, chord name) of what the band (every part but the player and drums)
    sounded: one chord a bar, or one per half bar where the halves name different chords; a
    segment with no band notes or no recognisable chord is left out. Each note is filed under the
    bars it sounds in, so a bar's name reads only its own notes (linear in the take's length)."""
    bar = take.bar_ticks
    by_bar: dict[int, list[Note]] = {}
    for n in take.notes:
        if n.part == PLAYER or n.channel == 9:
            continue
        for k in range(max(0, n.start // bar), min(take.bars, (max(n.end, n.start + 1) - 1) // bar + 1)):
            by_bar.setdefault(k, []).append(n)
    out: list[tuple[int, int, str]] = []

    def name(notes: list[Note], a: int, b: int) -> str:
        w: dict[int, float] = {}
        low: tuple[int, float] | None = None
        for n in notes:
            overlap = min(n.end, b) - max(n.start, a)
            if overlap > 0:
                w[n.pitch % 12] = w.get(n.pitch % 12, 0.0) + overlap * n.velocity
                if low is None or n.pitch < low[0]:
                    low = (n.pitch, overlap)
        return chord_name(recognise(w, low[0] % 12 if low else None))

    for k, notes in sorted(by_bar.items()):
        a, b = k * bar, (k + 1) * bar
        whole = name(notes, a, b)
        halves = [name(notes, a, a + bar // 2), name(notes, a + bar // 2, b)] if take.meter[0] % 2 == 0 else []
        if halves and all(halves) and halves[0] != halves[1]:
            out += [(a, a + bar // 2, halves[0]), (a + bar // 2, b, halves[1])]
        elif whole:
            out.append((a, b, whole))
    return out


def read_chords_file(path: str | os.PathLike, bar_ticks: int) -> list[tuple[int, str]]:
    """A chord chart, as liveai/music/tunes.py writes them: on a line with '|', bars are separated by
    '|' and the chords of one bar share it evenly ("D | A7 | D A"); on a line without, every word
    is a bar. '-' or '%' repeats the previous bar; a word starting with '#' starts a comment (F#
    is a chord). Each symbol is checked (ValueError)."""
    out: list[tuple[int, str]] = []
    bar = 0
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        words = line.split()
        for i, w in enumerate(words):
            if w.startswith("#"):
                words = words[:i]
                break
        text = " ".join(words)
        if not text:
            continue
        bars = [b.split() for b in text.split("|")] if "|" in text else [[w] for w in words]
        if "|" in text:  # "| D | A |": the empty ends are not bars
            while bars and not bars[0]:
                bars.pop(0)
            while bars and not bars[-1]:
                bars.pop()
        for syms in bars:
            for k, sym in enumerate(syms):
                if sym not in ("-", "%"):
                    out.append((bar * bar_ticks + k * bar_ticks // len(syms), chord_name(parse_chord(sym))))
            bar += 1
    return out


def true_chords(take: Take, chords_file: str | os.PathLike | None = None) -> list[tuple[int, str]]:
    """(tick, name) of the true chords: the chart if given, else the file's chord-like markers."""
    if chords_file:
        return read_chords_file(chords_file, take.bar_ticks)
    out = []
    for tick, text in take.markers:
        try:
            out.append((tick, chord_name(parse_chord(text))))
        except ValueError:
            continue  # a marker that is not a chord (a section name): not drawn in the chord lane
    return out


def _colour(part: str, parts: list[str]) -> str:
    if part in COLOURS:
        return COLOURS[part]
    others = [p for p in parts if p not in COLOURS]
    return PALETTE[others.index(part) % len(PALETTE)] if part in others else PALETTE[0]


def render_svg(take: Take, truth: Iterable[tuple[int, str]] = (), title: str = "") -> str:
    """The piano roll as an SVG document (a string)."""
    truth = list(truth)
    chords = band_chords(take)
    bars = take.bars
    bar_w = max(28.0, min(120.0, 1900.0 / bars))  # 32 bars: 59 px, a half-bar chord name fits
    px_tick = bar_w / take.bar_ticks
    pitches = [n.pitch for n in take.notes] or [60]
    lo, hi = min(pitches) - 2, max(pitches) + 2
    row = max(3.0, min(9.0, 420.0 / (hi - lo + 1)))
    left, top_title = 46.0, 26.0
    lane_h = 26.0  # two staggered rows of chord names, so that short segments never overlap
    lanes = [("played", chords)] + ([("true", truth)] if truth else [])
    roll_top = top_title + lane_h * len(lanes) + 16.0
    roll_h = row * (hi - lo + 1)
    legend_y = roll_top + roll_h + 22.0
    width = left + bars * bar_w + 12.0
    height = legend_y + 16.0
    y_of = lambda p: roll_top + (hi - p) * row  # noqa: E731
    x_of = lambda t: left + t * px_tick  # noqa: E731
    font = "font-family=\"Helvetica,Arial,sans-serif\""
    L = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
         f'viewBox="0 0 {width:.0f} {height:.0f}" {font} font-size="11">',
         f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
         f'<text x="{left:.0f}" y="17" font-size="13" font-weight="bold">{escape(title)}</text>']
    # pitch rows: C lines and labels; black keys shaded
    for p in range(lo, hi + 1):
        if NOTE_NAMES[p % 12] in ("C#", "Eb", "F#", "Ab", "Bb"):
            L.append(f'<rect x="{left:.1f}" y="{y_of(p):.1f}" width="{bars * bar_w:.1f}" height="{row:.1f}" fill="#f3f3f3"/>')
        if p % 12 == 0:
            L.append(f'<text x="{left - 4:.0f}" y="{y_of(p) + row:.1f}" text-anchor="end" font-size="9" '
                     f'fill="#666">C{p // 12 - 1}</text>')
            L.append(f'<line x1="{left:.1f}" x2="{left + bars * bar_w:.1f}" y1="{y_of(p) + row:.1f}" '
                     f'y2="{y_of(p) + row:.1f}" stroke="#d0d0d0" stroke-width="0.6"/>')
    # bar lines and numbers
    for k in range(bars + 1):
        x = left + k * bar_w
        L.append(f'<line class="bar" x1="{x:.1f}" x2="{x:.1f}" y1="{top_title:.1f}" y2="{roll_top + roll_h:.1f}" '
                 f'stroke="#888" stroke-width="{1.2 if k % 4 == 0 else 0.5}"/>')
        if k < bars and (bar_w >= 30 or k % 2 == 0):
            L.append(f'<text x="{x + 2:.1f}" y="{roll_top - 3:.1f}" font-size="8" fill="#888">{k + 1}</text>')
    # chord lanes
    for i, (label, items) in enumerate(lanes):
        y = top_title + lane_h * (i + 1) - 14
        L.append(f'<text x="{left - 4:.0f}" y="{y + 5:.1f}" text-anchor="end" font-size="9" fill="#666">{label}</text>')
        last = None
        row_end = [float("-inf"), float("-inf")]  # where the last name of each row ends
        starts = sorted(it[0] for it in items)
        for j, item in enumerate(items):
            tick, name = item[0], item[-1]
            if name == last:
                continue  # only where the chord changes: the lane reads like a chart
            last = name
            k = bisect.bisect_right(starts, tick)  # the next chord's start (a scan here was quadratic)
            nxt = starts[k] if k < len(starts) else take.bars * take.bar_ticks
            room = (nxt - tick) * px_tick - 3
            if "/" in name and 6.5 * len(name) > room:
                name = name.split("/")[0]  # no room for the inversion: the chord is what counts
            size = 11 if 6.5 * len(name) <= room else 9
            x = x_of(tick) + 2
            text_w = len(name) * size * 0.62
            sub = 0 if x > row_end[0] + 2 else 1 if x > row_end[1] + 2 else min((0, 1), key=lambda r: row_end[r])
            row_end[sub] = x + text_w
            cls = "chord band" if label == "played" else "chord true"
            colour = "#000" if label == "played" else "#B00020"
            L.append(f'<text class={quoteattr(cls)} x="{x:.1f}" y="{y + 10 * sub:.1f}" fill="{colour}" '
                     f'font-size="{size}" font-weight="bold">{escape(name)}</text>')
    # notes, band first, the player last (on top)
    order = sorted(take.notes, key=lambda n: (n.part == PLAYER, n.start))
    for n in order:
        x, y = x_of(n.start), y_of(n.pitch)
        w = max(1.0, (n.end - n.start) * px_tick - 0.5)
        colour = _colour(n.part, take.parts)
        stroke = ' stroke="#ffffff" stroke-width="0.8"' if n.part == PLAYER else ""
        op = 1.0 if n.part == PLAYER else 0.55 + 0.45 * n.velocity / 127
        L.append(f'<rect class="note" data-part={quoteattr(n.part)} data-pitch="{n.pitch}" data-start="{n.start}" '
                 f'data-end="{n.end}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{row:.1f}" rx="1" '
                 f'fill="{colour}" fill-opacity="{op:.2f}"{stroke}><title>{escape(n.part)} '
                 f'{NOTE_NAMES[n.pitch % 12]}{n.pitch // 12 - 1}</title></rect>')
    # legend
    x = left
    for part in take.parts:
        L.append(f'<rect x="{x:.1f}" y="{legend_y - 9:.1f}" width="10" height="10" fill="{_colour(part, take.parts)}"/>')
        L.append(f'<text x="{x + 13:.1f}" y="{legend_y:.1f}">{escape(part)}</text>')
        x += 20 + 7 * len(part)
    L.append("</svg>")
    return "\n".join(L) + "\n"


def render_file(midi_path: str | os.PathLike, svg_path: str | os.PathLike, chords: str | None = None,
                title: str | None = None) -> Path:
    """Read a take, write its SVG (atomically: a temporary file, then a rename)."""
    take = read_take(midi_path)
    svg = render_svg(take, true_chords(take, chords), title if title is not None else Path(midi_path).name)
    dst = Path(svg_path)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".show-", suffix=".svg", dir=dst.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(svg)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file, not mkstemp's 0600
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dst
