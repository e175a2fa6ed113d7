"""Where a player's own models live, how a name finds one, and the list of them (no training here).

`liveai learn FILES --name NAME` writes a folder in the per-user data folder
($LIVEAI_DATA, else $XDG_DATA_HOME/liveai, else ~/.local/share/liveai):
    models/NAME/chords.onnx   the fine-tuned chord model (int8, the built-in one's graph)
    models/NAME/style.json    the interval and rhythm profile of the player's lines
    models/NAME/card.md       what it learnt from, and its figures
    models/NAME/card.json     the same as data (model_weight: how much the planner trusts it)
`liveai run --model NAME` (and demo, and the config's `model = "NAME"`) plays with it; the built-in
models are never changed.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def data_dir() -> Path:
    env = os.environ.get("LIVEAI_DATA")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "liveai"


def models_dir() -> Path:
    return data_dir() / "models"


def check_name(name: str) -> str:
    """A model name is a folder name: letters, digits, - and _ (nothing that leaves the folder)."""
    if not NAME_RE.fullmatch(name or ""):
        raise ValueError(f"model name {name!r}: use letters, digits, - and _ (at most 64)")
    return name


def looks_like_name(value: str) -> bool:
    """A --model value that names a personal model rather than an ONNX file's path."""
    return bool(NAME_RE.fullmatch(value)) and not value.lower().endswith(".onnx")


@dataclass(frozen=True)
class PersonalModel:
    name: str
    folder: Path

    @property
    def chords(self) -> Path:
        return self.folder / "chords.onnx"

    @property
    def style(self) -> Path | None:
        p = self.folder / "style.json"
        return p if p.exists() else None

    @property
    def card(self) -> dict:
        try:
            return json.loads((self.folder / "card.json").read_text())
        except (OSError, ValueError):
            return {}

    @property
    def summary(self) -> str:
        c = self.card
        if not c:
            return "(no card)"
        own = c.get("held_out", {})
        fig = (f"; own held-out songs: chord heard {own.get('shipped', 0):.2f} -> {own.get('personal', 0):.2f}"
               if own else "")
        return f"{c.get('songs', '?')} songs, {c.get('bars', '?')} bars, learnt {c.get('date', '?')}{fig}"


def find(name: str) -> PersonalModel | None:
    if not looks_like_name(name):
        return None
    m = PersonalModel(name, models_dir() / name)
    return m if m.chords.exists() else None


def list_models() -> list[PersonalModel]:
    d = models_dir()
    if not d.is_dir():
        return []
    return [PersonalModel(p.name, p) for p in sorted(d.iterdir()) if (p / "chords.onnx").exists()]


def describe_models() -> str:
    """`liveai models`: the built-in models with their cards' first line, then the player's own."""
    from liveai.neural.chordmodel import DEFAULT_CHORD_MODEL_PATH
    lines = ["built-in:"]
    for f in sorted(DEFAULT_CHORD_MODEL_PATH.parent.glob("*.onnx")):
        if f.name.endswith(".fp32.onnx"):
            continue
        card = f.with_suffix(".md")
        first = next((ln.strip("# ").strip() for ln in card.read_text().splitlines() if ln.strip()), "") \
            if card.exists() else "(no card)"
        lines.append(f"  {f.stem:14s} {f.stat().st_size / 1e6:4.1f} MB  {first}")
    own = list_models()
    lines.append(f"yours ({models_dir()}):" if own else
                 f"yours: none yet in {models_dir()} (liveai learn FILES --name NAME makes one)")
    lines += [f"  {m.name:14s} {m.summary}" for m in own]
    return "\n".join(lines)
