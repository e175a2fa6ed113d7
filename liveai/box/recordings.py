"""A recordings directory with a size cap: the oldest .mid files go first once the total is over
the cap (config `record_cap_mb`; 0 = no cap)."""
from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def prune_recordings(directory: str | os.PathLike, cap_mb: float, keep: str | os.PathLike | None = None) -> list[Path]:
    """Delete the oldest recordings in directory until they total at most cap_mb megabytes
    (10**6 bytes). keep (the file just written) is never deleted. Returns the deleted paths."""
    if not cap_mb or cap_mb <= 0:
        return []
    d = Path(directory).expanduser()
    if not d.is_dir():
        return []
    files = []
    for p in d.glob("*.mid"):
        try:
            st = p.stat()
        except OSError:
            continue
        if p.is_file():
            files.append((st.st_mtime, p.name, p, st.st_size))
    files.sort()
    total = sum(f[3] for f in files)
    cap = cap_mb * 1_000_000
    keep_p = Path(keep).resolve() if keep else None
    removed = []
    for _, _, p, size in files:
        if total <= cap:
            break
        if keep_p is not None and p.resolve() == keep_p:
            continue
        try:
            p.unlink()
        except OSError as e:
            log.warning("cannot remove old recording %s: %s", p, e)
            continue
        total -= size
        removed.append(p)
    if removed:
        log.info("recordings over %g MB: removed %d oldest (%s)", cap_mb, len(removed),
                 ", ".join(p.name for p in removed[:5]) + (" ..." if len(removed) > 5 else ""))
    return removed
