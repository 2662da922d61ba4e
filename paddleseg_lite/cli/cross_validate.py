"""k-fold cross-validation: train each fold of split lists, then report per-fold and pooled metrics.

    paddleseg_lite split-dataset --config my.yml --folds 5 --save_dir data/splits
    paddleseg_lite cross-validate --config my.yml --splits data/splits --save_dir out/cv [--parallel 2]

Fold i trains with `paddleseg_lite train` (the code of tools/train.py, in its own process, as a user would
type it) into save_dir/fold_<i>/ with `train_dataset.train_path=<splits>/fold_<i>/train.txt` and
`val_dataset.val_path=<splits>/fold_<i>/val.txt`, so any dataset type that reads split lists works, and the
val set is the fold's held-out images. The lists are relative to one dataset_root, so train_dataset and
val_dataset must be the same type and dataset_root (else an error says so: a val_dataset reading other
files would not hold the fold out). `--parallel N` runs N folds at a time, each pinned to its own share of
the CPUs (two 1-thread processes train ~1.6x faster than one 2-thread process on 2 cores).

A fold whose final checkpoint exists is not trained again (a killed fold resumes: `--resume_model auto`),
so a rerun only reports. The report evaluates each fold's final model (`--checkpoint final`, the default:
`best_model/` was chosen on the held-out images themselves, so its scores are optimistic) with `core.val`
on its held-out images and writes save_dir/cv_summary.json and cv_summary.md (`core.cross_val`); with
`--folds` naming only some of the folds, cv_summary_folds_1_2.json/.md, leaving the report on all of them.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

import numpy as np

from paddleseg_lite import cli
from paddleseg_lite.cli.fov import val_fov
from paddleseg_lite.core.checkpoint_files import is_complete
from paddleseg_lite.core.cross_val import markdown, summarize
from paddleseg_lite.core.inference_options import InferenceOptions
from paddleseg_lite.core.threshold import model_classes, resolve_threshold
from paddleseg_lite.core.val import evaluate_metrics
from paddleseg_lite.cvlibs import Config
from paddleseg_lite.cvlibs.builtin_configs import CONFIG_HELP
from paddleseg_lite.cvlibs.run_settings import RUN_KEYS
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.fileio import writing


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help=CONFIG_HELP)
    p.add_argument("--splits", required=True, help="folder of fold_<i>/train.txt + val.txt (tools/split_dataset.py)")
    p.add_argument("--save_dir", required=True, help="fold_<i>/ (each fold's run) and cv_summary.json/.md go "
                   "here (cv_summary_folds_1_2.* when --folds names only some of the folds)")
    p.add_argument("--folds", type=int, nargs="+", default=None, help="the folds to run (default: all in --splits)")
    p.add_argument("--parallel", type=int, default=1, help="folds trained at a time, each on its own CPUs")
    p.add_argument("--checkpoint", default="final", choices=("final", "best"),
                   help="the model of each fold evaluated: final (default) or best_model/ (needs --do_eval; chosen "
                        "on the held-out images, so optimistic)")
    p.add_argument("--device", default="gpu", choices=cli.DEVICES, help="gpu falls back to cpu without CUDA")
    p.add_argument("--learning_rate", type=float, default=None, help="overrides lr_scheduler.learning_rate")
    cli.add_run_flags(p)
    p.add_argument("--engine", default="auto", choices=cli.ENGINES, help="the evaluation's engine, as tools/val.py's "
                   "(fp32)")
    p.add_argument("--opts", nargs="+", default=[], help="overrides for every fold: key.subkey=value ...")
    return p.parse_args(argv)


def folds_in(splits):
    """The fold numbers of `splits` (its fold_<i> folders), ascending."""
    if not os.path.isdir(splits):
        raise UserError("--splits {}: folder not found; write it with tools/split_dataset.py --folds K".format(splits))
    return sorted(int(n[5:]) for n in os.listdir(splits) if n.startswith("fold_") and n[5:].isdigit())


def summary_name(splits, folds):
    """cv_summary for every fold of `splits`; cv_summary_folds_1_2 for a `--folds` subset, so that a report on
    some folds never replaces the one on all of them."""
    if sorted(folds) == folds_in(splits):
        return "cv_summary"
    return "cv_summary_folds_" + "_".join(str(f) for f in sorted(folds))


def find_folds(splits, wanted):
    """{fold: (train list, val list)} of `wanted` (default: every fold_<i> in `splits`), absolute paths."""
    found = folds_in(splits)
    folds = {}
    for fold in wanted or found:
        lists = tuple(os.path.abspath(os.path.join(splits, "fold_{}".format(fold), n)) for n in ("train.txt", "val.txt"))
        missing = [p for p in lists if not os.path.isfile(p)]
        if missing:
            raise UserError("--splits {}: fold {} has no {} (folds there: {}); write them with tools/split_dataset.py "
                            "--folds K".format(splits, fold, missing[0], found or "none"))
        folds[fold] = lists
    return folds


def fold_opts(args, lists):
    """The `--opts` of one fold's training: the user's, the run flags given, then the fold's lists."""
    knobs = ["{}={}".format(k, getattr(args, k)) for k in ("iters", "batch_size") + RUN_KEYS
             if getattr(args, k) is not None]
    return args.opts + knobs + ["train_dataset.train_path=" + lists[0], "val_dataset.val_path=" + lists[1]]


def check_fold(args, fold, lists):
    """Build one fold's config and datasets (every mistake found before any training); returns the Config."""
    cfg = Config(args.config, learning_rate=args.learning_rate, opts=fold_opts(args, lists))
    cfg.check_train()
    cfg.require("val_dataset")
    train, val = cfg.dic["train_dataset"], cfg.dic["val_dataset"]
    where = [(d.get("type"), os.path.abspath(str(d.get("dataset_root")))) for d in (train, val)]
    if where[0] != where[1]:
        raise UserError("cross-validate: val_dataset ({}, dataset_root {}) is not train_dataset's ({}, {}): a fold's "
                        "held-out images must come from the listed pool; give val_dataset the same type and "
                        "dataset_root".format(*where[1], *where[0]))
    logger.info("cross-validate: fold {}: {} training, {} held-out samples".format(  # built: every file checked
        fold, len(cfg.train_dataset), len(cfg.val_dataset)))
    return cfg


def final_checkpoint(fold_dir, iters):
    return os.path.join(fold_dir, "iter_{}".format(iters))


def train_command(args, fold, lists):
    return ["train", "--config", args.config, "--device", args.device, "--save_dir", fold_dir_of(args, fold),
            "--resume_model", "auto"] + (["--learning_rate", str(args.learning_rate)] if args.learning_rate is not None else []) \
        + ["--opts"] + fold_opts(args, lists)


def fold_dir_of(args, fold):
    return os.path.join(args.save_dir, "fold_{}".format(fold))


def core_slots(parallel):
    """The CPUs of each of `parallel` processes: an equal share each (one CPU each when they are fewer)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if parallel < 2 or not cpus:
        return [None] * max(parallel, 1)
    share = max(1, len(cpus) // parallel)
    return [cpus[i * share:(i + 1) * share] if parallel <= len(cpus) else [cpus[i % len(cpus)]]
            for i in range(parallel)]


def train_folds(args, todo):
    """Train the folds of `todo` ({fold: lists}), `--parallel` at a time; raise a UserError naming a failed fold."""
    env = cli.command_env()
    pending, running, free, failed = list(todo), [], core_slots(args.parallel), []
    while pending or running:
        while pending and free and not failed:
            fold, cpus = pending.pop(0), free.pop(0)
            command = [sys.executable, "-m", "paddleseg_lite"] + train_command(args, fold, todo[fold])
            os.makedirs(fold_dir_of(args, fold), exist_ok=True)
            out = open(os.path.join(fold_dir_of(args, fold), "cv_train_output.log"), "w") if args.parallel > 1 else None
            logger.info("cross-validate: fold {}{}: {}".format(fold, " on CPUs {}".format(cpus) if cpus else "",
                                                               shlex.join(["paddleseg_lite"] + command[3:])))
            preexec = (lambda c=cpus: os.sched_setaffinity(0, c)) if cpus else None
            proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT if out else None,
                                    preexec_fn=preexec)
            running.append((fold, proc, cpus, out, time.time()))
        time.sleep(0.5)
        for item in [r for r in running if r[1].poll() is not None]:
            fold, proc, cpus, out, start = running.pop(running.index(item))[:5]
            free.append(cpus)
            if out:
                out.close()
            logger.info("cross-validate: fold {} finished (exit code {}) after {:.1f} min".format(
                fold, proc.returncode, (time.time() - start) / 60))
            if proc.returncode:
                failed.append((fold, proc.returncode, out.name if out else None))
    if failed:
        fold, code, log = failed[0]
        raise UserError("cross-validate: training fold {} failed (exit code {}; its output is {}); fix it and run "
                        "again: finished folds are kept".format(fold, code, log or "above"))


def evaluate_fold(args, fold_dir):
    """(SegEvaluator, model path) of one trained fold on its held-out images, as tools/val.py evaluates."""
    cfg = Config(os.path.join(fold_dir, "config.yml"))
    fov_background = val_fov(cfg, None)
    model_dir = final_checkpoint(fold_dir, cfg.iters) if args.checkpoint == "final" else os.path.join(fold_dir,
                                                                                                     "best_model")
    model_path = os.path.join(model_dir, "model.pdparams")
    if not os.path.isfile(model_path):
        raise UserError("--checkpoint {}: {} not found{}".format(args.checkpoint, model_path, (
            "; best_model/ is written by --do_eval" if args.checkpoint == "best" else "")))
    logger.info("cross-validate: evaluating {} on its held-out images".format(model_path))
    threshold = resolve_threshold(None, model_path, model_classes(cfg)).value
    model = cli.load_model(cfg, argparse.Namespace(engine=args.engine, precision="fp32", model_path=model_path))
    keep = _KeepEvaluator()
    evaluate_metrics(model, cfg.val_dataset, InferenceOptions.from_test_config(cfg.test_config), auc_roc=True,
                     save_dir=os.path.join(fold_dir, "cv_eval"), threshold=threshold, report=keep,
                     fov_background=fov_background)
    save_counts(keep.evaluator, os.path.join(fold_dir, "cv_eval", "counts.npz"))
    return keep.evaluator, model_path


class _KeepEvaluator:
    """The `report` hook of `evaluate_metrics`, used to keep its SegEvaluator (counts for pooling)."""
    evaluator = None

    def add(self, *data):
        pass

    def finish(self, metrics, evaluator):
        self.evaluator = evaluator


def save_counts(evaluator, path):
    """A fold's raw counts (confusion matrices and AUC histograms per region, per-image tp/fp/fn/tn), so the
    pooled numbers can be recomputed without the models."""
    arrays = {"confusion_" + r: cm.matrix for r, cm in evaluator.confusion.items()}
    arrays.update({"auc_" + r: h.counts for r, h in evaluator.auc.items()})
    arrays["image_counts"] = np.array([s["counts"] for s in evaluator.samples], np.int64)
    tmp = path + ".tmp.npz"
    with writing(tmp, path):
        np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def write_text(path, text):
    tmp = path + ".tmp"
    with writing(tmp, path):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.parallel < 1:
        raise UserError("--parallel {}: must be >= 1 (folds trained at a time)".format(args.parallel))
    folds = find_folds(args.splits, args.folds)
    cli.check_save_dir(args.save_dir)
    iters = {fold: check_fold(args, fold, lists).iters for fold, lists in folds.items()}
    todo = {f: lists for f, lists in folds.items() if not is_complete(final_checkpoint(fold_dir_of(args, f), iters[f]))}
    logger.info("cross-validate: {} folds, {} to train ({} already have their final checkpoint)".format(
        len(folds), len(todo), len(folds) - len(todo)))
    if todo:
        train_folds(args, todo)
    cli.set_device(args.device)
    results = {fold: evaluate_fold(args, fold_dir_of(args, fold)) for fold in folds}
    summary = summarize({fold: ev for fold, (ev, _) in results.items()})
    record = dict(summary, config=args.config, splits=os.path.abspath(args.splits), checkpoint=args.checkpoint,
                  models={fold: path for fold, (_, path) in results.items()},
                  command="{} {}".format(sys.argv[0], shlex.join(argv)))
    name = os.path.join(args.save_dir, summary_name(args.splits, folds))
    write_text(name + ".json", json.dumps(record, indent=1) + "\n")
    table = markdown(summary, "Cross-validation: {} folds, {} checkpoints, held-out images".format(
        len(folds), args.checkpoint))
    write_text(name + ".md", table)
    print(table)
