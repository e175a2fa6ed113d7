"""Never lose a take: the target is checked when recording starts, the take is journaled to disk
as it goes (a crash or power cut loses at most JOURNAL_S), a journal left by a crash is turned into
a .mid file at the next start, and a take that cannot be written at stop goes to a fallback folder.

The journal is `.<take>.mid.journal` beside the take: one JSON header line, then one line per
event (track, seconds, MIDI bytes in hex), appended and fsynced by a thread of its own, so the
engine and sender loops never touch the disk.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
import threading
from pathlib import Path

import mido

from liveai.io.recorder import Recorder
from liveai.io.safefile import check_target

log = logging.getLogger(__name__)

JOURNAL_S = 1.0
FORMAT = "liveai-journal-1"



def default_recordings_dir(env: "dict[str, str] | None" = None) -> Path:
    """Where takes go with no --record DIR: the service's state directory on the box (systemd's
    StateDirectory= sets $STATE_DIRECTORY), else $XDG_DATA_HOME/liveai/recordings (by default
    ~/.local/share/liveai/recordings); never a folder relative to wherever liveai was started."""
    import os
    env = os.environ if env is None else env
    state = (env.get("STATE_DIRECTORY") or "").split(":")[0]
    if state:
        return Path(state) / "recordings"
    data = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "share")
    return Path(data) / "liveai" / "recordings"


def check_folder(directory: str | os.PathLike) -> Path:
    """The recordings folder, created if missing and proven writable; ValueError naming the problem."""
    d = Path(directory).expanduser()
    if d.exists() and not d.is_dir():
        raise ValueError(f"cannot record into {d}: it is not a folder")
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=d, prefix=".liveai-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ValueError(f"cannot record into {d}: {e.strerror or e}") from None
    return d


def check_take(path: str | os.PathLike) -> Path:
    """A take's file: its folder usable and the file itself one we may write; ValueError if not."""
    path = Path(path).expanduser()
    try:
        real, _ = check_target(path)
    except OSError as e:
        raise ValueError(f"cannot record to {path}: {e}") from None
    try:
        check_folder(real.parent)
    except ValueError as e:
        raise ValueError(f"cannot record to {path}: {e}") from None
    return path


def fallback_folders() -> list[Path]:
    """Where a take goes when its own place fails at stop: $XDG_STATE_HOME/liveai/takes
    (~/.local/state/liveai/takes), then the temporary folder."""
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return [Path(state) / "liveai" / "takes", Path(tempfile.gettempdir()) / "liveai-takes"]


def _free(path: Path, tag: str = "") -> Path:
    stem = path.stem + tag
    p, n = path.with_name(stem + path.suffix), 2
    while p.exists() or p.is_symlink():
        p, n = path.with_name(f"{stem}~{n}{path.suffix}"), n + 1
    return p


def save_take(rec: Recorder, path: str | os.PathLike) -> Path:
    """Save the take at path; if that fails, in the first fallback folder that works (logged, with
    where). Returns where it went; raises the first error only when every place failed."""
    path = Path(path)
    try:
        return rec.save(path)
    except OSError as first:
        log.error("could not write the recording %s: %s", path, first)
        for d in fallback_folders():
            try:
                d.mkdir(parents=True, exist_ok=True)
                p = rec.save(_free(d / path.name))
            except OSError:
                continue
            log.warning("the take was saved instead to %s", p)
            return p
        raise first


class Journal:
    """Appends a recorder's new events to the journal file every JOURNAL_S."""

    def __init__(self, rec: Recorder, target: str | os.PathLike, interval: float = JOURNAL_S) -> None:
        self.rec, self.target = rec, Path(target)
        self.path = self.target.with_name(f".{self.target.name}.journal")
        self.interval = interval
        self._done = 0
        self._f = open(self.path, "a", encoding="ascii")
        try:
            fcntl.flock(self._f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # in use: recover() leaves it alone
            head = {"format": FORMAT, "target": str(self.target), "bpm": rec.bpm, "meter": list(rec.meter),
                    "parts": list(rec.parts)}
            self._f.write(json.dumps(head) + "\n")
            self._sync()
        except OSError:
            self._f.close()
            self.path.unlink(missing_ok=True)
            raise
        self._failed = False  # a write failed (a full disk): no more writes, one warning
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="take-journal", daemon=True)
        self._thread.start()

    def _sync(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            if self._f.closed:
                return
            n = len(self.rec.log)
            new = self.rec.log[self._done:n]
            self._done = n
            if not new or self._failed:
                return
            try:
                self._f.write("".join(f"{track}\t{t:.6f}\t{msg.hex()}\n" for track, t, msg in new))
                self._sync()
            except (OSError, ValueError) as e:  # a full disk: said once, then the take lives in memory
                self._failed = True
                log.warning("take journal %s: %s; journaling stops here (the take is kept in memory and "
                            "saved at stop; a crash now would lose what follows)", self.path, e)

    def close(self, keep: bool = False) -> None:
        """Stop journaling; the file is removed unless keep (the take could not be saved anywhere)."""
        self._stop.set()
        with self._lock:
            try:
                self._f.close()  # flushes what is buffered: on a full disk that fails, and does not matter
            except OSError:
                pass
        if not keep:
            try:
                self.path.unlink()
            except OSError:
                pass


def start_journal(rec: Recorder, target: str | os.PathLike) -> Journal | None:
    """A journal for the take, or None (logged) where it cannot be written: the take is then kept
    in memory only, as before, and saved at stop."""
    try:
        return Journal(rec, target)
    except OSError as e:
        log.warning("recording %s without a journal (a crash would lose it): %s", target, e)
        return None


def read_journal(path: str | os.PathLike) -> tuple[Recorder, Path]:
    """The take a journal holds (a torn last line is skipped) and the file it was meant for."""
    with open(path, encoding="ascii", errors="replace") as f:
        head = json.loads(f.readline())
        if head.get("format") != FORMAT:
            raise ValueError(f"{path} is not a liveai take journal")
        rec = Recorder(None, float(head["bpm"]), tuple(head["meter"]), tuple(head["parts"]))
        for line in f:
            try:
                track, t, data = line.rstrip("\n").split("\t")
                msg = mido.Message.from_hex(data)
                ev = (float(t), msg)
            except ValueError:
                continue
            rec.events.setdefault(track, []).append(ev)
    return rec, Path(head["target"])


def _saved_copy(target: Path, rec: Recorder) -> Path | None:
    """The take itself, where stop saved it (its own place or a fallback folder), if it holds at
    least what the journal does."""
    end = max((t for _, t, _ in rec.log), default=0.0)
    for p in [target] + [f / target.name for f in fallback_folders()]:
        if not p.is_file():
            continue
        try:
            mf = mido.MidiFile(str(p))
            length = float(mf.length)
        except Exception:  # not a take we can read: recover the journal
            continue
        if length >= end - 0.5:
            return p
    return None


def recover(directory: str | os.PathLike) -> list[Path]:
    """Turn every journal left in directory (by a crash) into a .mid file; returns them."""
    out = []
    d = Path(directory).expanduser()
    if not d.is_dir():
        return out
    for j in sorted(d.glob(".*.mid.journal")):
        try:
            with open(j, "rb") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # released on close
        except OSError:
            continue  # a take being recorded now (this engine or another)
        try:
            rec, target = read_journal(j)
            done = _saved_copy(d / target.name, rec)
            if done is not None:  # the take was saved after all (the journal outlived it): no duplicate
                j.unlink(missing_ok=True)
                log.info("take journal %s: already saved as %s", j, done)
                continue
            p = save_take(rec, _free(d / target.name, "-recovered"))
        except (OSError, ValueError) as e:
            log.error("could not recover the take in %s: %s", j, e)
            continue
        j.unlink(missing_ok=True)
        log.warning("recovered an unfinished take: %s", p)
        out.append(p)
    return out
