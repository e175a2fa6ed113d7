"""`liveai train`: reproduce the shipped accompanist end to end.

    liveai train [--out models/accompanist] [--epochs N] [--quick] ...   data, train, export,
        quantize, evaluate, write the card (OUT.onnx int8, OUT.json, OUT.md; fp32 file and weights
        to the cache dir; OUT.fp32.onnx is the unquantized reference)
    liveai train evaluate [--out models/accompanist]   re-run the evaluation of existing files and
        rewrite the card (teacher-forced figures, plan step cost, the harmony tables of
        liveai.evaluation over the evaluation tunes and 12 held-out chorales)
    liveai train data                                   only extract/cache the corpus

Also `python -m liveai.train ...` (same arguments).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_OUT = "models/accompanist"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="liveai train", description=__doc__.split("\n\n")[0])
    ap.add_argument("action", nargs="?", default="all", choices=["all", "evaluate", "data"],
                    help="all (default): data+train+export+quantize+evaluate+card")
    ap.add_argument("--out", default=DEFAULT_OUT, help="output path without suffix (default %(default)s)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--crop", type=int, default=128, help="training window in steps")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--listener-epochs", type=int, default=8,
                    help="chord listener (GRU on the player only, predicts the chord's pitch classes)")
    ap.add_argument("--finetune-epochs", type=int, default=0,
                    help="stage 2: epochs with the model's own past corrupted (learns to follow the player); "
                         "the epoch kept has the lowest validation loss")
    ap.add_argument("--finetune-lr", type=float, default=1e-3)
    ap.add_argument("--corrupt", type=float, default=0.5, help="stage 2: share of sequences corrupted")
    ap.add_argument("--reuse-stage1", action="store_true",
                    help="start stage 2 from the cached stage-1 weights of an earlier run with the same settings")
    ap.add_argument("--seed", type=int, default=0, help="training seed")
    ap.add_argument("--split-seed", type=int, default=1234, help="train/val/test split seed")
    ap.add_argument("--max-pieces", type=int, default=None, help="only the first N chorales (smoke tests)")
    ap.add_argument("--folk-files", type=int, default=None, help="only N folk collection files")
    ap.add_argument("--no-folk", action="store_true", help="no folk melodies (melody head from chorales only)")
    ap.add_argument("--folk-per-epoch", type=int, default=600)
    ap.add_argument("--no-transpose", action="store_true", help="train in the original keys only")
    ap.add_argument("--quick", action="store_true",
                    help="tiny smoke run: 12 chorales, hidden 32, 1 epoch, no folk, no transposition")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core machine)")
    ap.add_argument("--workers", type=int, default=2, help="processes for corpus parsing")
    ap.add_argument("--time-limit", type=float, default=None, help="stop training after N minutes")
    ap.add_argument("--cache", default=None, help="cache dir (default .cache/liveai-train)")
    ap.add_argument("--chorales", type=int, default=12,
                    help="held-out chorales in the harmony evaluation (default %(default)s; --quick: 2)")
    ap.add_argument("--seed-eval", dest="seed_eval", type=int, default=1,
                    help="the demo's --seed in the harmony evaluation (default %(default)s, as `liveai evaluate`)")
    ap.add_argument("--jobs", type=int, default=1, help="demo runs in parallel in the harmony evaluation")
    ap.add_argument("--per-channel", action="store_true", help="per-channel int8 weights")
    ap.add_argument("--skip-online", action="store_true", help="skip the harmony evaluation (tunes and chorales)")
    ap.add_argument("--no-eval", action="store_true", help="stop after export (evaluate later with `evaluate`)")
    return ap


def main(argv: list[str] | None = None) -> int:
    if argv and argv[0] == "crepe":  # the voice input's neural pitch tracker (liveai/train/crepetrain.py)
        from liveai.train.crepetrain import main as crepe_main
        return crepe_main(argv[1:])
    if argv and argv[0] == "chords":  # the streaming chord model on real songs (liveai/train/chordnet.py)
        from liveai.train.chordnet import main as chords_main
        return chords_main(argv[1:])
    if argv and argv[0] == "realsongs":  # the derived set of real songs it learns from
        from liveai.corpus.realsongset import main as realsongs_main
        return realsongs_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.quick:
        args.max_pieces = args.max_pieces or 12
        args.hidden, args.layers, args.epochs = 32, 1, min(args.epochs, 1)
        args.no_folk = args.no_transpose = True
        args.workers = 1  # evaluation: 2 tunes and 2 chorales, the model only (see liveai.train.evaluate)
    import torch  # noqa: F401  (the `train` extra)
    from liveai.corpus import pieces as D
    t_start = time.time()
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    cache = D.cache_dir(args.cache)
    if args.action == "evaluate":  # the folk split of the training run (melody head on held-out folk tunes)
        meta_p = cache / "runs" / (Path(args.out).name + ("-quick" if args.quick else "")) / "train_meta.json"
        targv = json.loads(meta_p.read_text()).get("argv") or [] if meta_p.exists() else []
        if "--no-folk" in targv:
            args.no_folk = True
        elif "--folk-files" in targv and args.folk_files is None:
            args.folk_files = int(targv[targv.index("--folk-files") + 1])
    chorales = D.load_chorales(cache, args.max_pieces, workers=args.workers)
    folk = [] if args.no_folk else D.load_folk(cache, args.folk_files, workers=args.workers)
    log(f"data: {len(chorales)} chorales, {len(folk)} folk tunes")
    if args.action == "data":
        return 0
    tr, va, te = D.split_pieces(chorales, seed=args.split_seed)
    ftr, fva, fte = D.split_pieces(folk, seed=args.split_seed) if folk else ([], [], [])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tag = out.name + ("-quick" if args.quick else "")
    work = cache / "runs" / tag
    work.mkdir(parents=True, exist_ok=True)
    fp32_path = out.with_name(out.name + ".fp32.onnx")  # reference for comparisons and the latency bench
    int8_path = out.with_suffix(".onnx")
    weights = work / "weights.npz"

    from liveai.train import train as T
    from liveai.train.network import export_onnx, quantize, weight_bytes
    log("encoding ...")
    val_seqs = T.build(va, False, "val")
    test_seqs = T.build(te, False, "test")
    history: list = []
    if args.action == "all":
        train_seqs = T.build(tr, not args.no_transpose, "train")
        rng = np.random.default_rng(args.seed)
        folk_seqs = []
        for p in ftr:  # one random key per tune
            sh = T.transpositions(p, not args.no_transpose)
            if sh:
                folk_seqs.append(T.encode_piece(p, int(rng.choice(sh))))
        log(f"training on {len(train_seqs)} chorale sequences ({len(tr)} pieces) + {len(folk_seqs)} folk; "
            f"val {len(va)}, test {len(te)} pieces")
        common = dict(hidden=args.hidden, layers=args.layers, batch=args.batch, crop=args.crop,
                      folk_per_epoch=args.folk_per_epoch, threads=args.threads, log=log,
                      time_limit_s=args.time_limit * 60 if args.time_limit else None)
        stage1 = work / "stage1.npz"
        if args.reuse_stage1 and stage1.exists():
            model = T.load_weights(stage1)
            meta_p = work / "train_meta.json"
            history = json.loads(meta_p.read_text()).get("history_stage1", []) if meta_p.exists() else []
            history = [dict(h, stage="1") for h in history]
            log(f"stage 1: reusing {stage1}")
        else:
            model, history = T.train(train_seqs, folk_seqs, val_seqs, epochs=args.epochs, lr=args.lr,
                                     seed=args.seed, stage="1", **common)
            T.save_weights(model, stage1)
        if args.finetune_epochs > 0:
            model, h2 = T.train(train_seqs, folk_seqs, val_seqs, epochs=args.finetune_epochs, lr=args.finetune_lr,
                                seed=args.seed + 1, init=model, corrupt=args.corrupt, stage="2",
                                **common)
            history = history + h2
        lis, lh = T.train_listener(train_seqs, val_seqs, hidden=args.hidden, epochs=args.listener_epochs,
                                   batch=args.batch, crop=args.crop, seed=args.seed + 2, threads=args.threads, log=log)
        history = history + lh
        T.save_listener(lis, work / "listener.npz")
        T.save_weights(model, weights)
        # No decoding parameter is tuned here: the first model tuned its decoding to one number
        # (note-in-chord) and learned to double the melody. Decoding is judged by
        # `python -m liveai.evaluation` on every harmony metric together.
        train_time = time.time() - t_start
        (work / "train_meta.json").write_text(json.dumps(
            {"argv": list(argv) if argv is not None else sys.argv[1:], "history": history, "train_time_s": train_time,
             "history_stage1": [h for h in history if h.get("stage") == "1"]}))
        export_onnx(model, fp32_path, listener=lis)
        quantize(fp32_path, int8_path, per_channel=args.per_channel)
        log(f"exported {fp32_path} and {int8_path}")
        if args.no_eval:
            return 0
        argv_train = [a for a in (list(argv) if argv is not None else sys.argv[1:]) if a not in ("--reuse-stage1", "--no-eval")]
    else:
        if not fp32_path.exists() or not int8_path.exists():
            log(f"evaluate needs {fp32_path} and {int8_path}: run `liveai train` first")
            return 2
        meta_p = work / "train_meta.json"
        meta = json.loads(meta_p.read_text()) if meta_p.exists() else {}
        history, train_time = meta.get("history", []), meta.get("train_time_s")
        argv_train = [a for a in (meta.get("argv") or ["--out", args.out]) if a not in ("--reuse-stage1", "--no-eval")]

    from liveai.train.evaluate import QUICK_TUNES, evaluate_all, held_out_chorales
    log("evaluating ...")
    chorales_eval = [] if args.skip_online else held_out_chorales(te, 2 if args.quick else args.chorales)
    tunes_eval = [] if args.skip_online else (list(QUICK_TUNES) if args.quick else None)
    res = evaluate_all(fp32_path, int8_path, val_seqs, test_seqs, chorales_eval, tunes=tunes_eval,
                       generators=("model",) if args.quick else ("model", "rules"), seed=args.seed_eval,
                       cost_steps=500 if args.quick else 4000, jobs=args.jobs, log=log)
    # melody head on held-out folk tunes
    if fte:
        from liveai.train.evaluate import teacher_forced_onnx
        fseqs = T.build(fte[:60], False, "folk test")
        res["melody_folk_test"] = {t: teacher_forced_onnx(p, fseqs).get("melody")
                                   for t, p in (("fp32", fp32_path), ("int8", int8_path))}
    wb = {"fp32": weight_bytes(fp32_path), "int8": weight_bytes(int8_path)}
    from liveai.train.card import write_card
    if args.action == "evaluate":
        eval_argv = list(argv) if argv is not None else sys.argv[1:]
    else:
        eval_argv = ["evaluate", "--out", str(args.out)] + (["--quick"] if args.quick else [])
    write_card(out, args=args, argv=argv_train, eval_argv=eval_argv, results=res, weights=wb, history=history,
               split={"train": [p.name for p in tr], "val": [p.name for p in va], "test": [p.name for p in te]},
               folk_split={"train": len(ftr), "val": len(fva), "test": len(fte)},
               n_train_seqs=None, train_time_s=train_time, fp32_path=fp32_path, int8_path=int8_path)
    log(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')} ({time.time() - t_start:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
