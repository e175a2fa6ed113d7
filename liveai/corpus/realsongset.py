"""A compact derived set of real songs on a 16th grid: melody, chord per step, key and tempo.

    liveai train realsongs --pop909 ../shared/data/pop909 \\
        --cmd /work/.mirror/shiehn+chord-melody-dataset/repo --out data/realsongs.npz

Sources (both MIT; see data/README.md and the licence files beside it): POP909 songs 001-800
(liveai/corpus/pop909.py; 801-909 are held out and never read) and the chord-melody-dataset's
lead sheets (liveai/corpus/musicxml.py). The arrays are concatenated over songs (song i: steps
offsets[i]:offsets[i+1]); see ``load``. Pure numpy + mido + the standard library.
"""
from __future__ import annotations

import argparse
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from liveai.corpus.musicxml import cmd_files, cmd_split, parse_musicxml
from liveai.corpus.pop909 import LAST_POP909_ID, MIN_BARS, pop909_songs
from liveai.corpus.songgrid import QUALITIES, Song, note_in_chord_share

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = REPO_ROOT / "data" / "realsongs.npz"


def tuning_song(song_id: str) -> bool:
    """A tenth of the training split is kept out of training to choose the planner's weights on
    (the validation split is only ever measured)."""
    return zlib.crc32(song_id.split("@")[0].encode()) % 10 == 0  # (pieces of one song together)


def split_of(song_id: str, split: str) -> str:
    """'train', 'tune' or 'val' (the derived set's split, with the tuning songs taken out)."""
    return "tune" if split == "train" and tuning_song(song_id) else split


def _save(songs: list[Song], out_path: Path) -> None:
    lens = [len(s.mel) for s in songs]
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    cat = lambda attr, dt: np.concatenate([getattr(s, attr) for s in songs]).astype(dt)  # noqa: E731
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out_path, mel=cat("mel", np.int8), onset=cat("onset", np.uint8), root=cat("root", np.int8),
        quality=cat("quality", np.int8), bass=cat("bass", np.int8), offsets=offsets,
        steps_per_bar=np.array([s.steps_per_bar for s in songs], np.int8),
        tempo=np.array([s.tempo for s in songs], np.float32),
        key_tonic=np.array([s.key_tonic for s in songs], np.int8),
        key_minor=np.array([s.key_minor for s in songs], np.uint8),
        song_id=np.array([s.song_id for s in songs], dtype=np.str_),
        split=np.array([s.split for s in songs], dtype=np.str_),
        qualities=np.array(QUALITIES, dtype=np.str_))


def summary(rs: "RealSongs", skipped: dict[str, dict[str, int]] | None = None) -> str:
    lines = []
    for src in ("pop909", "cmd"):
        sel = [i for i, s in enumerate(rs.song_id) if s.startswith(src + "/")]
        whole = {s.split("@")[0] for s in rs.song_id[sel]}
        steps = sum(int(rs.offsets[i + 1] - rs.offsets[i]) for i in sel)
        nval = sum(rs.split[i] == "val" for i in sel)
        lines.append(f"{src}: {len(sel)} entries from {len(whole)} songs ({nval} entries val), "
                     f"{steps} steps ({steps // 16} bars)")
        for k, v in sorted((skipped or {}).get(src, {}).items()):
            lines.append(f"  {k}: {v}")
    T = len(rs.mel)
    has = rs.root >= 0
    lines.append(f"total: {len(rs.song_id)} entries, {T} steps ({T // 16} bars); steps with a chord "
                 f"{has.mean():.3f}; steps with melody {(rs.mel > 0).mean():.3f}")
    hist = np.bincount(rs.quality[has].astype(int), minlength=len(QUALITIES)) / max(1, has.sum())
    lines.append("qualities: " + ", ".join(f"{q} {h:.3f}" for q, h in zip(QUALITIES, hist)))
    for src in ("pop909", "cmd"):
        m = np.zeros(T, bool)
        for i, s in enumerate(rs.song_id):
            if s.startswith(src + "/"):
                m[rs.offsets[i]:rs.offsets[i + 1]] = True
        lines.append(f"note-in-chord ({src}, melody steps with a chord): "
                     f"{note_in_chord_share(rs.mel[m], rs.root[m], rs.quality[m]):.3f}")
    lines.append(f"note-in-chord (all): {note_in_chord_share(rs.mel, rs.root, rs.quality):.3f}")
    return "\n".join(lines)


def build(pop909_dir, cmd_dir, out_path, *, irregular: str = "split", max_songs: int | None = None,
          log=print) -> dict:
    """Build the derived set from POP909 (001-800) and the chord-melody-dataset; write out_path."""
    songs: list[Song] = []
    skipped: dict[str, dict[str, int]] = {"pop909": {}, "cmd": {}}
    if pop909_dir:
        st: dict = {}
        dirs = sorted(p for p in Path(pop909_dir).iterdir() if p.is_dir() and p.name.isdigit())
        dirs = [p for p in dirs if int(p.name) <= LAST_POP909_ID][:max_songs]
        n_kept = 0
        for d in dirs:
            n_irr = st.get("irregular", 0)
            try:
                got = pop909_songs(d, irregular=irregular, stats=st)
            except Exception as e:  # noqa: BLE001  (a broken song is counted, not fatal)
                key = f"skipped ({type(e).__name__}: {str(e)[:40]})"
                skipped["pop909"][key] = skipped["pop909"].get(key, 0) + 1
                continue
            n_kept += bool(got)
            if not got and st.get("irregular", 0) == n_irr:
                skipped["pop909"]["skipped (no stretch of %d bars with melody)" % MIN_BARS] = \
                    skipped["pop909"].get("skipped (no stretch of %d bars with melody)" % MIN_BARS, 0) + 1
            songs += got
        skipped["pop909"]["songs read"] = len(dirs)
        skipped["pop909"]["songs with at least one entry"] = n_kept
        if st.get("irregular"):
            skipped["pop909"]["skipped (irregular bars)"] = st["irregular"]
        if st.get("irregular_split"):
            skipped["pop909"]["songs cut at irregular bars"] = st["irregular_split"]
        if st.get("short_stretches"):
            skipped["pop909"][f"stretches under {MIN_BARS} bars dropped"] = st["short_stretches"]
        if st.get("unknown_labels"):
            skipped["pop909"]["unknown chord labels (no chord)"] = len(st["unknown_labels"])
            log("unknown POP909 labels:", sorted(st["unknown_labels"]))
    if cmd_dir:
        files = cmd_files(Path(cmd_dir))[:max_songs]
        for name, f in files:
            try:
                text = f if isinstance(f, bytes) else Path(f).read_bytes()
                songs.append(parse_musicxml(text, f"cmd/{name}", cmd_split(name)))
            except Exception as e:  # noqa: BLE001
                key = f"skipped ({type(e).__name__}: {str(e)[:40]})"
                skipped["cmd"][key] = skipped["cmd"].get(key, 0) + 1
        skipped["cmd"]["songs read"] = len(files)
    out_path = Path(out_path)
    _save(songs, out_path)
    rs = load(out_path)
    text = summary(rs, skipped)
    log(text)
    return {"summary": text, "skipped": skipped, "n_songs": len(songs)}


# ----------------------------------------------------------------------------- load

@dataclass
class SongView:
    song_id: str
    split: str
    mel: np.ndarray
    onset: np.ndarray
    root: np.ndarray
    quality: np.ndarray
    bass: np.ndarray
    tempo: float
    key_tonic: int
    key_minor: int
    steps_per_bar: int

    def __len__(self) -> int:
        return len(self.mel)


@dataclass
class RealSongs:
    mel: np.ndarray
    onset: np.ndarray
    root: np.ndarray
    quality: np.ndarray
    bass: np.ndarray
    offsets: np.ndarray
    steps_per_bar: np.ndarray
    tempo: np.ndarray
    key_tonic: np.ndarray
    key_minor: np.ndarray
    song_id: np.ndarray
    split: np.ndarray
    qualities: tuple[str, ...] = field(default=QUALITIES)

    def __len__(self) -> int:
        return len(self.song_id)

    def song(self, i: int) -> SongView:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return SongView(str(self.song_id[i]), str(self.split[i]), self.mel[a:b], self.onset[a:b],
                        self.root[a:b], self.quality[a:b], self.bass[a:b], float(self.tempo[i]),
                        int(self.key_tonic[i]), int(self.key_minor[i]), int(self.steps_per_bar[i]))

    def indices(self, split: str | None = None, source: str | None = None) -> list[int]:
        return [i for i in range(len(self)) if (split is None or self.split[i] == split)
                and (source is None or str(self.song_id[i]).startswith(source + "/"))]


def load(path=DEFAULT_PATH) -> RealSongs:
    with np.load(path) as z:
        q = tuple(str(x) for x in z["qualities"]) if "qualities" in z else QUALITIES
        if q != QUALITIES:
            raise ValueError(f"{path}: qualities {q} differ from {QUALITIES}")
        return RealSongs(**{k: z[k] for k in ("mel", "onset", "root", "quality", "bass", "offsets",
                                              "steps_per_bar", "tempo", "key_tonic", "key_minor",
                                              "song_id", "split")})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="liveai train realsongs", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pop909", default=None, help="POP909 folder (songs NNN/, only 001-800 are read)")
    ap.add_argument("--cmd", default=None, help="chord-melody-dataset: a checkout or bare git directory")
    ap.add_argument("--out", default=str(DEFAULT_PATH))
    ap.add_argument("--irregular", choices=["split", "skip"], default="split",
                    help="POP909 songs with bars not four beats long: cut into regular stretches "
                         "(default) or skip")
    ap.add_argument("--max-songs", type=int, default=None, help="only the first N songs of each source")
    args = ap.parse_args(argv)
    if not args.pop909 and not args.cmd:
        ap.error("give --pop909 and/or --cmd")
    build(args.pop909, args.cmd, args.out, irregular=args.irregular, max_songs=args.max_songs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
