"""`python -m liveai.evaluation` (also `liveai evaluate`): the measuring stick of issue 13.

Runs every annotated tune (melody only, and with left-hand block chords) through the real demo CLI
with the model and the rules accompanist, scores them and the reference accompanists (tonic drone,
block triads of the true chord), and prints markdown tables of the means over the tunes.

    python -m liveai.evaluation                      # all tunes, both variants
    python -m liveai.evaluation --verbose            # plus one row per tune
    python -m liveai.evaluation --chorales 12        # plus 12 held-out chorales with Bach's parts
    python -m liveai.evaluation --songs              # plus music21's chord-annotated songs (untuned)
    python -m liveai.evaluation --real 20            # plus 20 validation songs of POP909 and 20 lead sheets
    python -m liveai.evaluation --roll pop-g         # a text piano roll of bars 2-5 of one tune
    python -m liveai.evaluation --real 3 --roll real # piano rolls of the real songs, band against truth
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time

from liveai.evaluation.harmony import FOUR_PART_METRICS, METRICS
from liveai.evaluation.runner import (GENERATORS, all_tune_cases, evaluate_cases, means, per_case_table,
                                      piano_roll, table)
from liveai.evaluation.targets import summary
from liveai.evaluation.annotated import TUNES, VARIANTS


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="liveai evaluate", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tunes", help=f"comma-separated tune keys (default all: {', '.join(TUNES)})")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="melody (melody only) and/or chords (with left-hand block chords); default both")
    ap.add_argument("--generators", default=",".join(GENERATORS), help="demo generators to run (default model,rules)")
    ap.add_argument("--seed", type=int, default=1, help="the demo's --seed (default 1)")
    ap.add_argument("--chorales", type=int, default=0, metavar="N",
                    help="add N held-out chorales (the training test split; needs the train extra)")
    ap.add_argument("--songs", action="store_true",
                    help="add the chord-annotated songs of music21's corpus, which no setting was chosen on "
                         "(lead sheets and Nottingham tunes; needs the train extra)")
    ap.add_argument("--real", type=int, default=0, metavar="N",
                    help="add N validation songs of each real source (POP909 721-800, the chord-melody-dataset's "
                         "held-out lead sheets; data/realsongs.npz), melody only, with the one-beat-late reference")
    ap.add_argument("--real-bars", type=int, default=32, metavar="B",
                    help="play the first B bars of each real song (default 32; 0: whole songs)")
    ap.add_argument("--only-real", action="store_true", help="skip the written tunes (with --real)")
    ap.add_argument("--band", help="run the demos with this band style (demo --band NAME)")
    ap.add_argument("--verbose", action="store_true", help="also print one row per tune and accompanist")
    ap.add_argument("--roll", metavar="TUNE", help="print a text piano roll of a tune (key, or key+chords)")
    ap.add_argument("--roll-bars", default="2-5", help="bars for --roll, e.g. 2-5 (1-based, default 2-5)")
    ap.add_argument("--jobs", type=int, default=1, help="demo runs in parallel (default 1)")
    ap.add_argument("--workdir", help="keep the input and session .mid files here (default: a temporary folder)")
    ap.add_argument("--json", dest="json_out", help="also write all figures to this JSON file")
    return ap


def _bars(text: str) -> list[int]:
    a, _, b = text.partition("-")
    lo, hi = int(a), int(b or a)
    if lo < 1 or hi < lo:
        raise ValueError(f"--roll-bars must look like 2-5, not {text!r}")
    return list(range(lo - 1, hi))


def _real_rolls(args: argparse.Namespace, gens: list[str]) -> int:
    """Text piano rolls of a few bars of the first real validation songs: the band against truth."""
    from liveai.evaluation.realsongs import real_cases
    cases = real_cases(args.real, args.real_bars or None)
    res = evaluate_cases(cases, gens[:1], args.seed, args.workdir, args.jobs, None)
    for c in cases:
        print(f"## {c.title}\n")
        shown = {n: s for n, s in res[c.key].items() if n in ("ceiling",) or n not in ("drone", "late")}
        print(piano_roll(c, shown, _bars(args.roll_bars)) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    t0 = time.perf_counter()
    try:
        keys = args.tunes.split(",") if args.tunes else list(TUNES)
        unknown = [k for k in keys if k not in TUNES]
        if unknown:
            raise ValueError(f"unknown tune(s) {', '.join(unknown)}; known: {', '.join(TUNES)}")
        variants = [v for v in args.variants.split(",") if v]
        bad = [v for v in variants if v not in VARIANTS]
        if bad:
            raise ValueError(f"unknown variant(s) {', '.join(bad)}; known: {', '.join(VARIANTS)}")
        gens = [g for g in args.generators.split(",") if g]
        if args.band:
            gens = [f"{g} --band {args.band}" for g in gens]
        if args.real and args.roll == "real":
            return _real_rolls(args, gens)
        if args.only_real:
            keys, variants = [], []
        if args.roll:
            base, _, var = args.roll.partition("+")
            if base not in TUNES:
                raise ValueError(f"unknown tune {base!r}; known: {', '.join(TUNES)}")
            keys, variants = [base], ["chords" if var else "melody"]
        if args.songs and importlib.util.find_spec("music21") is None:
            raise RuntimeError("--songs reads music21's corpus: install the train extra (pip install -e '.[train]')")
        cases = all_tune_cases([TUNES[k] for k in keys], variants)
        log = (lambda s: print(s, file=sys.stderr, flush=True)) if args.verbose else None
        results = evaluate_cases(cases, gens, args.seed, args.workdir, args.jobs, log)
        if args.roll:
            print(piano_roll(cases[0], results[cases[0].key], _bars(args.roll_bars)))
            return 0
        out: dict = {"command": "python -m liveai.evaluation " + " ".join(argv if argv is not None else sys.argv[1:]),
                     "seed": args.seed, "tunes": keys}
        print(f"# liveai evaluation: {len(keys)} tunes, demo --fast --seed {args.seed}, first bar skipped\n")
        for v in variants:
            ks = [c.key for c in cases if (c.key.endswith("+chords")) == (v == "chords")]
            m = means(results, ks)
            out[v] = m
            title = "melody only" if v == "melody" else "with left-hand block chords"
            print(table(m, f"{title}: means over {len(ks)} tunes") + "\n")
            if "model" in m:
                print(summary(v, m) + "\n")
        if args.chorales:
            from liveai.evaluation.chorales import chorale_cases
            ccases = chorale_cases(args.chorales)
            cres = evaluate_cases(ccases, gens, args.seed, args.workdir, args.jobs, log)
            m = means(cres)
            out["chorales"] = {"names": [c.title for c in ccases], "means": m}
            print(table(m, f"held-out chorales: means over {len(ccases)} (implied chord against Bach's harmony)") + "\n")
            if "model" in m:
                print(summary("chorales", m) + "\n")
            results.update(cres)
        if args.songs:
            from liveai.evaluation.leadsheets import leadsheet_cases
            scases = leadsheet_cases()
            sres = evaluate_cases(scases, gens, args.seed, args.workdir, args.jobs, log)
            m = means(sres)
            out["songs"] = {"names": [c.title for c in scases], "means": m}
            print(table(m, f"songs of music21's corpus, melody only: means over {len(scases)} "
                           "(a check on over-fitting, not a target)") + "\n")
            results.update(sres)
        if args.real:
            from liveai.evaluation.realsongs import PUBLISHED, real_cases
            rcases = real_cases(args.real, args.real_bars or None)
            rres = evaluate_cases(rcases, gens, args.seed, args.workdir, args.jobs, log)
            out["real"] = {}
            for src in ("pop909", "cmd"):
                ks = [c.key for c in rcases if c.title.startswith(src + "/")]
                if not ks:
                    continue
                m = means(rres, ks)
                out["real"][src] = {"songs": [c.title for c in rcases if c.key in ks], "means": m}
                print(table(m, f"real songs ({src}, validation split), melody only: means over {len(ks)}, "
                               f"first {args.real_bars or 'all'} bars") + "\n")
            print(PUBLISHED + "\n")
            results.update(rres)
        if args.verbose:
            print(per_case_table(results, METRICS + (FOUR_PART_METRICS if args.chorales else ())) + "\n")
            out["per_case"] = {k: {n: s.scores for n, s in by.items()} for k, by in results.items()}
        print(f"({time.perf_counter() - t0:.0f} s)")
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump(out, f, indent=1)
        return 0
    except (ValueError, RuntimeError, LookupError) as e:
        print(f"liveai evaluate: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
