"""Evaluation: run inference over a dataset and report PaddleSeg's and the vessel literature's metrics.

Per image: `core.infer` gives logits at the original label size, then `utils.metrics.SegEvaluator`
accumulates confusion matrices (PaddleSeg's pixels, inside the FOV, whole image) and optional AUC
histograms. Counts are summed over ranks, so multi-process evaluation reports the same numbers.
Beyond PaddleSeg's lines: PR-AUC, MCC, clDice and Betti errors, and a bootstrap interval over images
(`utils.metrics.topology`, `utils.metrics.bootstrap`).
"""
import os
import time

import cv2
import numpy as np
import paddle

from paddleseg_lite.models.outputs import logits_to_pred, logits_to_prob
from paddleseg_lite.core.inference_options import InferenceOptions
from paddleseg_lite.core.loader import ShardBatchSampler, build_loader
from paddleseg_lite.core.threshold import tuned_threshold
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.fov import background_outside
from paddleseg_lite.utils.labels import num_classes_of
from paddleseg_lite.utils.metrics import SegEvaluator, write_per_image_csv
from paddleseg_lite.utils.progress import Progress
from paddleseg_lite.utils.visual import panel

VESSEL_KEYS = ("dice", "iou", "sensitivity", "specificity", "accuracy", "precision", "auc", "mcc", "ap", "cldice")
# the metrics save_best_metric may name (higher is better)
METRIC_NAMES = ("mIoU", "Acc", "Kappa", "Dice", "Auc_roc") + tuple(k + "_fg" for k in VESSEL_KEYS)
PROB_METRIC_NAMES = ("Auc_roc", "auc_fg", "ap_fg")   # need test_config.auc_roc (score histograms)
# reported scalars that are not selectable: lower is better, or an interval bound
REPORT_NAMES = ("betti0_err_fg", "betti1_err_fg", "dice_ci_lo_fg", "dice_ci_hi_fg", "auc_ci_lo_fg", "auc_ci_hi_fg")
BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED = 1000, 0
AUC_BINS = 65536


def _panel(data, label, pred, num_classes):
    img = data["img"].numpy()[0]
    height, width = label.shape
    img = cv2.resize(img.transpose(1, 2, 0), (width, height)).reshape(height, width, -1).transpose(2, 0, 1)
    return panel(img, label, pred, num_classes)


def _sum_over_ranks(array):
    total = paddle.to_tensor(np.asarray(array, np.int64))
    paddle.distributed.all_reduce(total)
    return total.numpy().astype(np.int64)


def _reduce(evaluator):
    """Sum the counts of every rank into `evaluator` and gather the per-image records in dataset order."""
    if paddle.distributed.get_world_size() < 2:
        return evaluator
    for cm in evaluator.confusion.values():
        cm.matrix = _sum_over_ranks(cm.matrix)
    for hist in evaluator.auc.values():
        hist.counts = _sum_over_ranks(hist.counts)
    evaluator.has_fov = bool(_sum_over_ranks(np.array([int(evaluator.has_fov)]))[0])
    evaluator.per_image = _gather_in_order(evaluator.per_image)
    evaluator.samples = _gather_in_order(evaluator.samples)
    return evaluator


def _gather_in_order(items):
    """Every rank's per-image list, in dataset order."""
    gathered, world_size = [], paddle.distributed.get_world_size()
    paddle.distributed.all_gather_object(gathered, items)
    # rank r evaluated images r, r + world_size, ...: interleave back into dataset order
    return [gathered[i % world_size][i // world_size] for i in range(sum(map(len, gathered)))]


def _flatten(evaluator, num_images):
    seg = evaluator.paddleseg_metrics()
    metrics = {"mIoU": seg["miou"], "Acc": seg["acc"], "Kappa": seg["kappa"], "Dice": seg["mdice"],
               "class_iou": seg["class_iou"], "class_precision": seg["class_precision"],
               "class_recall": seg["class_recall"], "class_dice": seg["class_dice"], "num_images": num_images}
    if "auc" in seg:
        metrics["Auc_roc"] = seg["auc"]
    vessel = evaluator.vessel_metrics()
    primary = vessel.get("fov", vessel["image"])
    metrics.update({k + "_fg": v for k, v in primary.items()})
    if "fov" in vessel:
        metrics.update({"image_" + k + "_fg": v for k, v in vessel["image"].items()})
    for name, (low, high) in evaluator.bootstrap(BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED).items():
        metrics.update({name + "_ci_lo_fg": low, name + "_ci_hi_fg": high})
    return metrics


def _log(metrics, has_fov):
    auc = " Auc_roc: {:.4f}".format(metrics["Auc_roc"]) if "Auc_roc" in metrics else ""
    logger.info("[EVAL] #Images: {} mIoU: {:.4f} Acc: {:.4f} Kappa: {:.4f} Dice: {:.4f}{}".format(
        metrics["num_images"], metrics["mIoU"], metrics["Acc"], metrics["Kappa"], metrics["Dice"], auc))
    for name in ("IoU", "Precision", "Recall"):
        logger.info("[EVAL] Class {}: \n{}".format(name, np.round(metrics["class_" + name.lower()], 4)))
    regions = [("", "inside FOV"), ("image_", "whole image")] if has_fov else [("", "whole image")]
    for prefix, where in regions:
        m = {k: metrics.get(prefix + k + "_fg") for k in VESSEL_KEYS}
        auc = " AUC: {:.4f}".format(m["auc"]) if m["auc"] is not None else ""
        logger.info("[EVAL] Vessel ({}): Dice/F1: {:.4f} Se: {:.4f} Sp: {:.4f} Acc: {:.4f} IoU: {:.4f} "
                    "Precision: {:.4f}{}".format(where, m["dice"], m["sensitivity"], m["specificity"],
                                                 m["accuracy"], m["iou"], m["precision"], auc))
    _log_beyond_paddleseg(metrics, regions[0][1])


def _log_beyond_paddleseg(metrics, where):
    """The lines none of the anchors print: precision/topology metrics and the bootstrap interval."""
    ap = "PR-AUC: {:.4f} ".format(metrics["ap_fg"]) if "ap_fg" in metrics else ""
    logger.info("[EVAL] Vessel ({}): {}MCC: {:.4f} clDice: {:.4f} Betti-0 err: {:.2f} Betti-1 err: {:.2f}".format(
        where, ap, metrics["mcc_fg"], metrics["cldice_fg"], metrics["betti0_err_fg"], metrics["betti1_err_fg"]))
    if "dice_ci_lo_fg" in metrics:
        auc = " AUC [{:.4f}, {:.4f}]".format(metrics["auc_ci_lo_fg"], metrics["auc_ci_hi_fg"]) \
            if "auc_ci_lo_fg" in metrics else ""
        logger.info("[EVAL] 95% CI over {} images (bootstrap): F1 [{:.4f}, {:.4f}]{}".format(
            metrics["num_images"], metrics["dice_ci_lo_fg"], metrics["dice_ci_hi_fg"], auc))


def _predict_one(model, data, options, threshold, with_prob, fov_background):
    """(pred H×W, prob C×H×W or None, label H×W, fov H×W or None) of one val sample, at its original size."""
    trans_info = data["trans_info"][0] if data.get("trans_info") else None
    logits = options.logits(model, data["img"], trans_info)
    pred = logits_to_pred(logits, threshold).numpy()[0, 0]
    prob = logits_to_prob(logits).numpy()[0] if with_prob else None
    fov = data["fov"].numpy()[0, 0] if "fov" in data else None
    if fov_background:
        pred, prob = background_outside(fov, pred, prob)
    return pred, prob, data["label"].numpy()[0, 0], fov


def evaluate_metrics(model, eval_dataset, options=None, auc_roc=False, num_workers=0, print_detail=True,
                     save_dir=None, num_vis=0, threshold=None, tune_threshold=False, report=None,
                     fov_background=False):
    """Evaluate `model` on `eval_dataset` (val mode: labels at their original size), with every metric.

    Args:
        model (paddle.nn.Layer): Returns a list of logits; logits[0] is evaluated.
        eval_dataset: A dataset in val mode.
        options (InferenceOptions, optional): How to infer each image (default: whole image, no TTA).
        auc_roc (bool): Also compute AUC-ROC (from score histograms).
        num_workers (int): DataLoader workers.
        print_detail (bool): Log the [EVAL] lines and show a progress bar.
        save_dir (str, optional): Write per-image metrics to save_dir/per_image_metrics.csv.
        num_vis (int): Return input | label | prediction panels for the first N images (the prediction
            background outside the sample's FOV).
        threshold (float, optional): Decision threshold of a binary model (`core.threshold`); None: argmax.
        tune_threshold (bool): Also pick the F1-maximising threshold (AUC is then on), logged after the
            other lines and returned as `threshold`, `threshold_f1`, ... (`core.threshold.tuned_threshold`).
        report (core.report.ReportWriter, optional): Gets each image as it is evaluated (`add`, the prediction
            as evaluated) and the pooled metrics at the end (`finish`, rank 0).
        fov_background (bool): Evaluate (and report) the prediction as background outside the samples' FOV
            (tools/val.py unless --fov none); False keeps the raw prediction there, which the whole-image
            metrics measure.

    Returns:
        tuple: (metrics dict with the keys of METRIC_NAMES and REPORT_NAMES (those that apply: AUC ones
        with auc_roc, intervals with >= 2 images), image_*_fg with a FOV, plus class_* vectors; list of panels).
    """
    options, auc_roc = options or InferenceOptions(), auc_roc or tune_threshold
    rank, world_size = paddle.distributed.get_rank(), paddle.distributed.get_world_size()
    sampler = ShardBatchSampler(len(eval_dataset), rank, world_size)
    loader = build_loader(eval_dataset, sampler, num_workers)
    num_classes = num_classes_of(eval_dataset.num_classes)
    evaluator = SegEvaluator(num_classes, eval_dataset.ignore_index, auc_bins=AUC_BINS if auc_roc else 0)
    if print_detail:
        logger.info("Start evaluating (total_samples: {}, total_iters: {})...".format(len(eval_dataset), len(sampler)))
    model.eval()
    panels, tic = [], time.time()
    with Progress(len(sampler), "eval", "img", enabled=print_detail and rank == 0) as progress:
        for data in loader:
            reader_cost = time.time() - tic
            pred, prob, label, fov = _predict_one(model, data, options, threshold, auc_roc, fov_background)
            evaluator.update(pred, label, fov=fov, prob=prob, name=str(data["img_path"][0]))
            if report:
                report.add(data, label, pred, prob, fov)
            if len(panels) < num_vis:
                panels.append(_panel(data, label, background_outside(fov, pred)[0], num_classes))
            progress.advance(values=[("batch_cost", time.time() - tic), ("reader cost", reader_cost)])
            tic = time.time()
    evaluator = _reduce(evaluator)
    metrics = _flatten(evaluator, len(eval_dataset))
    if print_detail:
        _log(metrics, evaluator.has_fov)
    if tune_threshold:
        metrics.update(tuned_threshold(evaluator, metrics))
    if save_dir and rank == 0:
        write_per_image_csv(evaluator.per_image, os.path.join(save_dir, "per_image_metrics.csv"))
    if report and rank == 0:
        report.finish(metrics, evaluator)
    return metrics, panels


def evaluate(model, eval_dataset, aug_eval=False, scales=1.0, flip_horizontal=False, flip_vertical=False,
             is_slide=False, stride=None, crop_size=None, precision="fp32", amp_level="O1", num_workers=0,
             print_detail=True, auc_roc=False, use_multilabel=False, **kwargs):
    """PaddleSeg's `evaluate`: the same parameters, order and 5-tuple; `evaluate_metrics` gives every metric.

    Args:
        kwargs: `save_dir`, `mirror_pad` (see `evaluate_metrics` and `InferenceOptions`).

    Returns:
        tuple: (miou, acc, class_iou, class_precision, kappa) as numpy scalars / arrays.
    """
    if use_multilabel:
        raise UserError("evaluate: use_multilabel is not supported (one class per pixel)")
    if precision != "fp32" and not paddle.get_device().startswith("gpu"):
        raise UserError("evaluate: precision {} needs a CUDA GPU; use fp32".format(precision))
    with paddle.amp.auto_cast(enable=precision == "fp16", level=amp_level):
        options = InferenceOptions(aug=aug_eval, scales=scales, flip_horizontal=flip_horizontal,
                                   flip_vertical=flip_vertical, is_slide=is_slide, stride=stride, crop_size=crop_size,
                                   mirror_pad=kwargs.pop("mirror_pad", False))
        metrics, _ = evaluate_metrics(model, eval_dataset, options, auc_roc=auc_roc, num_workers=num_workers,
                                      print_detail=print_detail, **kwargs)
    return (np.float64(metrics["mIoU"]), np.float64(metrics["Acc"]), np.asarray(metrics["class_iou"]),
            np.asarray(metrics["class_precision"]), np.float64(metrics["Kappa"]))
