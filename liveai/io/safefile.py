"""Saving files without damaging what is not ours: the one path every saver takes (recordings,
demo output, the saved config, learned styles).

- A symlink is followed to its target (the link stays, the target is updated).
- A regular file (or a new one) is replaced atomically: a temporary file beside the target,
  fsynced, renamed over it, the directory fsynced, so a power cut leaves the old or the new file.
  An existing file keeps its mode; a new one gets 0666 less the umask, like any other program's.
- A FIFO is written into (what a user who names one asks for); with no reader it is an error,
  never a hang.
- A directory, device node or socket is refused with a clear error and left as it was (run as
  root, `--out /dev/null` used to turn /dev/null into a regular 0600 file).
"""
from __future__ import annotations

import errno
import os
import secrets
import stat
import time
from pathlib import Path
from typing import Callable

__all__ = ["UnsafeTarget", "check_target", "write_file"]


class UnsafeTarget(OSError):
    """The target is not something we may replace (a directory, a device, a socket...)."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device node"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_target(path: str | os.PathLike) -> tuple[Path, os.stat_result | None]:
    """(the real path to write, its stat or None when it does not exist yet). Raises
    UnsafeTarget for what may not be written; a FIFO or a regular file is fine."""
    real = Path(os.path.realpath(Path(path).expanduser()))
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return real, None
    if stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return real, st
    shown = f"{path}" if str(path) == str(real) else f"{path} (-> {real})"
    raise UnsafeTarget(f"{shown} is {_kind(st.st_mode)}; refusing to write over it; name a file instead")


FIFO_READER_GRACE_S = 1.0


def _write_fifo(real: Path, data: bytes, grace_s: float = FIFO_READER_GRACE_S) -> None:
    """Write into a FIFO. A reader started at the same moment (`cat pipe &`) may open its end a
    little after us, so we wait up to grace_s for one; never block forever on none."""
    deadline = time.monotonic() + grace_s
    while True:
        try:
            fd = os.open(real, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
            if time.monotonic() >= deadline:
                raise OSError(f"{real} is a FIFO with no reader; start the reader first") from None
            time.sleep(0.01)
    try:
        os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _fsync_dir(d: Path) -> None:
    try:  # the rename itself survives a power cut once the directory is synced
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def write_file(path: str | os.PathLike, data: bytes, check: Callable[[Path], None] | None = None) -> Path:
    """Write data to path safely (see the module docstring). check, if given, is called with the
    temporary file before it replaces anything (e.g. load it back); it raises to refuse.
    Returns the path written (the symlink's target where path is a link)."""
    real, st = check_target(path)
    if st is not None and stat.S_ISFIFO(st.st_mode):
        _write_fifo(real, data)
        return real
    real.parent.mkdir(parents=True, exist_ok=True)
    tmp = real.with_name(f".{real.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the kernel applies the umask
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if st is not None:  # an existing file keeps its mode (and owner, where we may)
                os.fchmod(fd, stat.S_IMODE(st.st_mode))
                if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                    try:
                        os.fchown(fd, st.st_uid, st.st_gid)
                    except OSError:
                        pass
            os.fsync(fd)
        finally:
            os.close(fd)
        if check is not None:
            check(tmp)
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(real.parent)
    return real
