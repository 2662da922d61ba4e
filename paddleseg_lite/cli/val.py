"""Evaluate a trained model on the config's val_dataset (PaddleSeg's tools/val.py flags, plus --threshold
and --fov).

With --save_dir it also writes per_image_metrics.csv and a report (index.html, per-image pictures, ROC /
PR curves: `core.report`); the report's probability maps and curves turn AUC on.
"""
import argparse

from paddleseg_lite import cli
from paddleseg_lite.cli import paddleseg_flags
from paddleseg_lite.cli.fov import add_fov_arg, val_fov
from paddleseg_lite.cli.model_flag import add_model_flag, apply_model_flag
from paddleseg_lite.core.report import ReportWriter
from paddleseg_lite.core.threshold import (model_classes, parse_threshold, resolve_threshold,
                                            store_threshold)
from paddleseg_lite.core.val import evaluate_metrics
from paddleseg_lite.cvlibs import Config


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Model evaluation")
    cli.add_model_args(p)
    p.add_argument("--num_workers", type=int, default=0, help="data loader worker processes")
    p.add_argument("--aug_eval", action="store_true", help="evaluate with --scales / flips")
    p.add_argument("--auc_roc", action="store_true", help="also report AUC-ROC (as test_config.auc_roc)")
    p.add_argument("--save_dir", default=None, help="write per_image_metrics.csv and the report (index.html) here")
    add_fov_arg(p)
    cli.add_inference_args(p)
    add_model_flag(p)
    cli.add_threshold_arg(p, auto=True)
    cli.add_engine_args(p)
    paddleseg_flags.add_data_format_arg(p)
    paddleseg_flags.add_multilabel_arg(p)
    return apply_model_flag(p.parse_args(argv), tunes_threshold=True)


def main(argv=None):
    args = parse_args(argv)
    paddleseg_flags.check_flags(args)
    threshold = parse_threshold(args.threshold, allow_auto=True)
    if args.save_dir:
        cli.check_save_dir(args.save_dir)
    cli.set_device(args.device)
    cfg = Config(args.config, opts=args.opts)
    options, auc_roc = cli.inference_options(args, cfg.test_config, "aug_eval")
    fov_background = val_fov(cfg, args.fov)
    decision = resolve_threshold(threshold, args.model_path, model_classes(cfg))
    model = cli.load_model(cfg, args)
    report = None
    if args.save_dir:
        report = ReportWriter(args.save_dir, cfg.val_dataset.num_classes, cfg.val_dataset.ignore_index)
    metrics, _ = evaluate_metrics(model, cfg.val_dataset, options, auc_roc=auc_roc or args.auc_roc or bool(report),
                                  num_workers=args.num_workers, save_dir=args.save_dir, threshold=decision.value,
                                  tune_threshold=decision.tune, report=report, fov_background=fov_background)
    if decision.tune:
        store_threshold(args.model_path, metrics)
