"""`liveai learn` and `liveai models`: their flags and handlers (the work is imported when run, so
the command line starts as fast as before and `liveai models` needs nothing beyond the runtime)."""
from __future__ import annotations

import argparse
import sys
import time


def add_parsers(sub) -> None:
    learn = sub.add_parser("learn", help="learn your own model from your MIDI files and takes",
                           description="Learn a personal model from your songs (MIDI files, MusicXML lead sheets, "
                           "takes from the recordings folder): the chord model fine-tuned on them, and your lines' "
                           "style. Needs the learn extra (onnx), not torch. `liveai run --model NAME` plays with it.")
    learn.add_argument("paths", nargs="+", help="files or folders of them")
    learn.add_argument("--name", help="the model's name (in the per-user data folder; `liveai models` lists them)")
    learn.add_argument("--out", help="only write the style profile (JSON) here, as before (no chord model)")
    learn.add_argument("--updates", type=int, default=2000, help="fine-tuning updates (default 2000)")
    learn.add_argument("--minutes", type=float, default=4.0, help="stop fine-tuning after this long (default 4)")
    learn.add_argument("--max-files", dest="max_files", type=int, default=2000,
                       help="read at most this many files (default 2000)")
    sub.add_parser("models", help="list the built-in models and your own, with their cards",
                   description="List the models liveai plays with: the built-in ones and those `liveai learn` made.")


def cmd_learn(args: argparse.Namespace) -> int:
    if args.name:
        try:
            import onnx  # noqa: F401  (the learn extra)
        except ImportError:
            print("liveai: error: learning a model needs the learn extra (pip install 'liveai[learn]')", file=sys.stderr)
            return 2
        from liveai.train.learn import run_command
        return run_command(args.paths, args.name, args.updates, args.minutes, args.max_files)
    if not args.out:
        raise ValueError("learn needs --name NAME (your own model) or --out FILE (a style profile only)")
    from liveai.io.safefile import write_file
    from liveai.music.stylememory import learn_files
    t0 = time.perf_counter()
    mem = learn_files(args.paths)
    write_file(args.out, mem.encode())
    print(f"learned {mem.n_symbols} notes in {time.perf_counter() - t0:.2f} s; wrote {args.out}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from liveai.neural.personal import describe_models
    print(describe_models())
    return 0
