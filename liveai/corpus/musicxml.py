"""chord-melody-dataset (shiehn; MIT) lead sheets read onto the 16th grid.

One transposition per song (c.xml, else the first file there), MusicXML read with xml.etree: the
melody, the <harmony> chords (two a bar), the key signature. A fifth of the songs, chosen by a hash
of their folder name, are the validation split.
"""
from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np

from liveai.corpus.songgrid import (PC_OF_NAME, Q_INDEX, STEPS_PER_BAR, STEPS_PER_BEAT, Song, empty_arrays,
                                   place_notes)

# MusicXML <kind> -> our quality (None: not a chord we keep, e.g. "none")
MUSICXML_KIND: dict[str, str | None] = {
    "major": "maj", "minor": "min", "augmented": "aug", "diminished": "dim",
    "dominant": "7", "dominant-seventh": "7", "major-seventh": "maj7", "minor-seventh": "m7",
    "diminished-seventh": "dim", "augmented-seventh": "aug", "half-diminished": "m7b5",
    "major-minor": "min", "major-sixth": "maj", "minor-sixth": "min",
    "dominant-ninth": "7", "major-ninth": "maj7", "minor-ninth": "m7",
    "dominant-11th": "7", "major-11th": "maj7", "minor-11th": "m7",
    "dominant-13th": "7", "major-13th": "maj7", "minor-13th": "m7",
    "suspended-second": "maj", "suspended-fourth": "sus4", "power": "maj",
    "Neapolitan": "maj", "Italian": "7", "French": "7", "German": "7", "Tristan": "7",
    "pedal": "maj", "none": None, "other": None,
}
# a flattened fifth (<degree> 5, alter -1) turns these kinds into another quality
_B5_OF = {"m7": "m7b5", "min": "dim", "m7b5": "m7b5", "dim": "dim"}


def parse_musicxml_harmony(el: ET.Element) -> tuple[int, str, int] | None:
    """A MusicXML <harmony> element -> (root pc, quality, bass pc) or None."""
    kind_el = el.find("kind")
    kind = (kind_el.text or "").strip() if kind_el is not None else "major"
    if kind not in MUSICXML_KIND:
        return None
    q = MUSICXML_KIND[kind]
    step = el.findtext("root/root-step")
    if q is None or not step:
        return None
    root = (PC_OF_NAME[step.strip().upper()] + int(float(el.findtext("root/root-alter") or 0))) % 12
    for deg in el.findall("degree"):
        if (deg.findtext("degree-value") or "").strip() == "5" and \
                float(deg.findtext("degree-alter") or 0) < 0 and (deg.findtext("degree-type") or "") == "alter":
            q = _B5_OF.get(q, q)
    bass = root
    bstep = el.findtext("bass/bass-step")
    if bstep:
        bass = (PC_OF_NAME[bstep.strip().upper()] + int(float(el.findtext("bass/bass-alter") or 0))) % 12
    return root, q, bass


def _step_of_pitch(p: ET.Element) -> int:
    return 12 * (int(p.findtext("octave")) + 1) + PC_OF_NAME[p.findtext("step").strip().upper()] + \
        int(float(p.findtext("alter") or 0))


def parse_musicxml(text: str | bytes, song_id: str = "cmd/x", split: str = "train") -> Song:
    """A 4/4 monophonic MusicXML lead sheet with <harmony> chords -> a Song on the 16th grid.
    Each measure is a bar (a short first measure is a pickup, right-aligned in its bar); harmony
    sits where it is written in the measure (its graphical <offset> is ignored); leading and
    trailing bars without melody are dropped."""
    root_el = ET.fromstring(text)
    part = root_el.find("part")
    if part is None:
        raise ValueError("no part")
    divisions = 1.0
    fifths, mode, tempo = 0, "major", None
    notes, chords = [], []  # notes: (start, end, pitch, onset) in quarters; chords: (pos, chord)
    bar_q = 4.0
    measures = part.findall("measure")
    bar_start = 0.0
    for mi, meas in enumerate(measures):
        pos, top = 0.0, 0.0
        m_notes, m_chords = [], []
        for el in meas:
            tag = el.tag
            if tag == "attributes":
                if el.findtext("divisions"):
                    divisions = float(el.findtext("divisions"))
                if el.findtext("key/fifths") is not None and mi == 0:
                    fifths = int(el.findtext("key/fifths"))
                    mode = (el.findtext("key/mode") or "major").strip()
                beats, btype = el.findtext("time/beats"), el.findtext("time/beat-type")
                if beats and btype and (int(beats), int(btype)) != (4, 4):
                    raise ValueError(f"time {beats}/{btype}")
            elif tag == "sound" and el.get("tempo") and tempo is None:
                tempo = float(el.get("tempo"))
            elif tag == "direction":
                snd = el.find("sound")
                if snd is not None and snd.get("tempo") and tempo is None:
                    tempo = float(snd.get("tempo"))
            elif tag == "harmony":
                m_chords.append((pos, parse_musicxml_harmony(el)))
            elif tag == "backup":
                pos -= float(el.findtext("duration") or 0) / divisions
            elif tag == "forward":
                pos += float(el.findtext("duration") or 0) / divisions
            elif tag == "note":
                if el.find("grace") is not None:
                    continue
                dur = float(el.findtext("duration") or 0) / divisions
                start = pos
                if el.find("chord") is not None:
                    continue  # monophonic: the first note of a chord is kept
                pitch = el.find("pitch")
                if pitch is not None:
                    tie_stop = any(t.get("type") == "stop" for t in el.findall("tie"))
                    m_notes.append((start, start + dur, _step_of_pitch(pitch), not tie_stop))
                pos += dur
            top = max(top, pos)
        shift = bar_q - top if (mi == 0 and 0 < top < bar_q) else 0.0  # pickup
        if top > bar_q + 1e-6:
            raise ValueError(f"measure {meas.get('number')} longer than 4/4 ({top} quarters)")
        notes += [(bar_start + shift + a, bar_start + shift + b, p, o) for a, b, p, o in m_notes]
        chords += [(bar_start + shift + a, c) for a, c in m_chords]
        bar_start += bar_q
    if not notes:
        raise ValueError("no melody notes")
    first_bar = int(min(a for a, _, _, _ in notes) // bar_q)
    last_bar = int(np.ceil(max(b for _, b, _, _ in notes) / bar_q - 1e-9))
    base = first_bar * bar_q
    T = (last_bar - first_bar) * STEPS_PER_BAR
    mel, onset, root, qual, bass = empty_arrays(T)
    place_notes(mel, onset, [(int(round((a - base) * STEPS_PER_BEAT)), int(round((b - base) * STEPS_PER_BEAT)),
                               p, o) for a, b, p, o in notes])
    # merge tied continuations: a tie-stop note continues the previous one (no onset)
    chords.sort(key=lambda c: c[0])
    for i, (pos, c) in enumerate(chords):
        s = int(round((pos - base) * STEPS_PER_BEAT))
        e = int(round((chords[i + 1][0] - base) * STEPS_PER_BEAT)) if i + 1 < len(chords) else T
        s, e = max(s, 0), min(e, T)
        if e <= s:
            continue
        if c is None:
            root[s:e], qual[s:e], bass[s:e] = -1, -1, -1
        else:
            root[s:e], qual[s:e], bass[s:e] = c[0], Q_INDEX[c[1]], c[2]
    tonic = (7 * fifths + (9 if mode == "minor" else 0)) % 12
    return Song(song_id, mel, onset, root, qual, bass, float(tempo or 100.0), tonic, int(mode == "minor"), split)


def cmd_split(name: str) -> str:
    return "val" if zlib.crc32(name.encode()) % 5 == 0 else "train"


def _git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True).stdout


def cmd_files(cmd_dir: Path) -> list[tuple[str, bytes | Path]]:
    """(folder name, file) per song: c.xml, else the folder's first file. Reads a bare git
    directory (git show) or a checked-out tree."""
    cmd_dir = Path(cmd_dir)
    out = []
    if (cmd_dir / "HEAD").exists() and not (cmd_dir / "LICENSE").exists():  # bare git dir
        listing = _git(cmd_dir, "ls-tree", "-r", "--name-only", "HEAD").decode().splitlines()
        by_dir: dict[str, list[str]] = {}
        for p in listing:
            if p.count("/") == 1 and p.endswith(".xml"):
                d, f = p.split("/")
                by_dir.setdefault(d, []).append(f)
        for d in sorted(by_dir):
            f = "c.xml" if "c.xml" in by_dir[d] else sorted(by_dir[d])[0]
            out.append((d, _git(cmd_dir, "show", f"HEAD:{d}/{f}")))
    else:
        for d in sorted(p for p in cmd_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            xs = sorted(d.glob("*.xml"))
            if xs:
                out.append((d.name, d / "c.xml" if (d / "c.xml").exists() else xs[0]))
    return out
