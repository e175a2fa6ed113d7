import os

from liveai.box.recordings import prune_recordings


def test_oldest_recordings_go_beyond_the_cap(tmp_path):
    for i in range(6):
        p = tmp_path / f"take{i}.mid"
        p.write_bytes(b"x" * 400_000)
        os.utime(p, (1000 + i, 1000 + i))
    (tmp_path / "notes.txt").write_bytes(b"y" * 5_000_000)  # not a recording: never touched
    newest = tmp_path / "take0.mid"  # just written, but oldest by time: kept anyway
    removed = prune_recordings(tmp_path, 1.0, keep=newest)
    assert [p.name for p in removed] == ["take1.mid", "take2.mid", "take3.mid", "take4.mid"]
    assert sorted(p.name for p in tmp_path.glob("*.mid")) == ["take0.mid", "take5.mid"]
    assert prune_recordings(tmp_path, 0, keep=None) == []  # 0 = no cap
    assert prune_recordings(tmp_path / "missing", 1.0) == []
