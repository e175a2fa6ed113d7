"""Issue 12, items 1 and 6: saving never replaces what is not a regular file, follows symlinks to
their target, keeps an existing file's mode and gives new files the umask's mode. Every saver
(recording, demo output, saved config, learned style) goes through the same path."""
import json
import os
import stat
import threading

import mido
import pytest

from liveai.box.persist import save_config
from liveai.control.config import Config
from liveai.io.recorder import Recorder
from liveai.io.safefile import write_file
from liveai.music.stylememory import StyleMemory
from liveai.timing.clock import SimClock


def _rec(path):
    rec = Recorder(SimClock(), 120.0, (4, 4), ("bass",))
    rec.player(mido.Message("note_on", note=60, velocity=90), 0.0)
    rec.player(mido.Message("note_off", note=60), 0.5)
    return rec.save(path)


def _cfg(path):
    return save_config(Config(tempo=99.0), path)


def _style(path):
    m = StyleMemory()
    m.learn_notes([(60, 4), (62, 4), (64, 4)])
    write_file(path, m.encode())
    return path


SAVERS = {"recording": _rec, "config": _cfg, "style": _style}


def _check(kind, path):
    if kind == "recording":
        assert any(m.type == "note_on" for m in mido.MidiFile(path))
    elif kind == "config":
        assert "tempo = 99.0" in open(path).read()
    else:
        assert json.load(open(path))["format"] == "liveai-style-1"


@pytest.mark.parametrize("kind", SAVERS)
def test_a_symlink_is_followed_to_its_target(tmp_path, kind):
    real = tmp_path / "real" / "take"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "link"
    link.symlink_to(real)
    SAVERS[kind](link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    _check(kind, real)


@pytest.mark.parametrize("kind", SAVERS)
def test_a_directory_is_refused_clearly(tmp_path, kind):
    d = tmp_path / "dir"
    d.mkdir()
    (d / "inside").write_text("keep")
    with pytest.raises(OSError, match="directory"):
        SAVERS[kind](d)
    assert d.is_dir() and (d / "inside").read_text() == "keep"
    assert [p.name for p in tmp_path.iterdir()] == ["dir"]  # no temporary file left behind


@pytest.mark.parametrize("kind", SAVERS)
def test_a_device_node_is_refused_and_left_untouched(tmp_path, kind):
    dev = tmp_path / "null"
    try:
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
    except (PermissionError, OSError) as e:
        pytest.skip(f"cannot make a device node here: {e}")
    before = os.stat(dev)
    with pytest.raises(OSError, match="device"):
        SAVERS[kind](dev)
    after = os.stat(dev)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino
    assert stat.S_IMODE(after.st_mode) == stat.S_IMODE(before.st_mode)


@pytest.mark.parametrize("kind", SAVERS)
def test_a_symlink_to_a_device_is_refused(tmp_path, kind):
    dev = tmp_path / "null"
    try:
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError) as e:
        pytest.skip(f"cannot make a device node here: {e}")
    link = tmp_path / "out.mid"
    link.symlink_to(dev)
    with pytest.raises(OSError, match="device"):
        SAVERS[kind](link)
    assert link.is_symlink() and stat.S_ISCHR(os.stat(dev).st_mode)


@pytest.mark.parametrize("kind", SAVERS)
def test_a_fifo_is_written_into_not_replaced(tmp_path, kind):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()), daemon=True)
    reader.start()
    SAVERS[kind](fifo)
    reader.join(5)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert got and len(got[0]) > 0


def test_a_fifo_without_a_reader_is_an_error_not_a_hang(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="reader"):
        _cfg(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("kind", SAVERS)
def test_an_existing_files_mode_is_kept(tmp_path, kind):
    p = tmp_path / "f"
    p.write_bytes(b"old")
    os.chmod(p, 0o640)
    SAVERS[kind](p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640
    _check(kind, p)


@pytest.mark.parametrize("kind", SAVERS)
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_new_files_respect_the_umask(tmp_path, kind, umask):
    old = os.umask(umask)
    try:
        p = SAVERS[kind](tmp_path / "sub" / "new")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o666 & ~umask
    _check(kind, p)
