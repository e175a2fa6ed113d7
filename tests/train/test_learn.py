"""`liveai learn --name`: a player's folder in, a personal model out, run by name; nothing else touched."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnx")

from liveai.neural.chordmodel import DEFAULT_CHORD_MODEL_PATH  # noqa: E402
from tests.train.test_playerfiles import piano_part, write  # noqa: E402


def liveai(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "liveai", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def players_folder(d: Path, n: int = 9) -> Path:
    d.mkdir()
    for i in range(n):  # the same progression, the tune moved about
        notes = [(s, e, p + (i % 3) * 2 if p >= 60 else p) for s, e, p in piano_part()]
        write(d / f"song{i}.mid", {"piano": notes})
    (d / "broken.mid").write_bytes(b"MThd\x00")
    (d / "drums.mid").write_bytes((d / "song0.mid").read_bytes().replace(b"\x90", b"\x99").replace(b"\x80", b"\x89"))
    return d


def digest(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def test_learn_by_name_then_play_by_name(tmp_path):
    env = dict(os.environ, LIVEAI_DATA=str(tmp_path / "data"))
    mine = players_folder(tmp_path / "mine")
    before, shipped = digest(mine), hashlib.sha256(DEFAULT_CHORD_MODEL_PATH.read_bytes()).hexdigest()
    r = liveai("learn", str(mine), "--name", "me", "--updates", "60", env=env)
    assert r.returncode == 0, r.stderr
    assert f"skipped {mine / 'broken.mid'}: damaged MIDI file" in r.stdout
    assert f"skipped {mine / 'drums.mid'}: drums only" in r.stdout
    assert "read 9 songs" in r.stdout and "kept aside to measure" in r.stdout
    assert "60/60 updates" in r.stderr  # the progress, with the time left
    assert "# me: a personal chord model" in r.stdout and "Progressions: I V vi" in r.stdout
    folder = tmp_path / "data" / "models" / "me"
    card = json.loads((folder / "card.json").read_text())
    assert card["songs"] == 9 and len(card["skipped"]) == 2 and card["held_out"]["songs"] >= 1
    assert card["model_weight"] in (1.0, 2.0, 4.0)
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "card.md", "chords.onnx", "style.json"]
    assert digest(mine) == before  # the player's files are only read
    assert hashlib.sha256(DEFAULT_CHORD_MODEL_PATH.read_bytes()).hexdigest() == shipped
    r = liveai("models", env=env)
    assert r.returncode == 0 and "chords" in r.stdout and "me " in r.stdout and "9 songs" in r.stdout
    out = tmp_path / "take.mid"
    r = liveai("demo", "--fast", "--model", "me", "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr
    assert out.exists()
    # learning again replaces the model whole; no temporary folder is left behind
    r = liveai("learn", str(mine / "song1.mid"), str(mine / "song2.mid"), "--name", "me", "--updates", "20", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads((folder / "card.json").read_text())["songs"] == 2
    assert "Too few songs" in (folder / "card.md").read_text()
    assert sorted(p.name for p in (tmp_path / "data" / "models").iterdir()) == ["me"]


def test_unknown_or_unsafe_names_are_clear_errors(tmp_path):
    env = dict(os.environ, LIVEAI_DATA=str(tmp_path / "data"))
    r = liveai("demo", "--fast", "--model", "nobody", "--out", str(tmp_path / "x.mid"), env=env)
    assert r.returncode == 2 and "no model named 'nobody'" in r.stderr and "liveai learn" in r.stderr
    r = liveai("learn", str(tmp_path), "--name", "../escape", env=env)
    assert r.returncode == 2 and "model name '../escape'" in r.stderr
    r = liveai("learn", str(tmp_path / "nothing-here"), "--name", "x", env=env)
    assert r.returncode == 2 and "nothing to learn from" in r.stderr
    assert not (tmp_path / "data" / "models" / "x").exists()
