"""The numbers of a cross-validation (`paddleseg_lite cross-validate`): per fold, mean +/- std over folds,
and pooled over every held-out image, from the `SegEvaluator` of each fold's evaluation (`core.val`).

Pooled = the folds' evaluators merged (pixel counts and AUC histograms summed), so the pooled F1 is the F1
of all held-out pixels, not a mean of fold F1s; its 95% interval is the bootstrap over the held-out images
(`SegEvaluator.bootstrap`). Binary tasks report the vessel metrics of the primary region (inside the FOV
when the samples have one, else the whole image) and, with AUC histograms, the nested threshold: each
fold evaluated at the F1-best threshold of the OTHER folds' held-out pixels (a threshold chosen without
the fold, as `benchmarks/drive_kfold.py` does), an honest estimate of what `val --threshold auto` gains, and
the threshold for a final model trained on every image: the F1-best one of all the held-out pixels.
"""
import numpy as np

from paddleseg_lite.utils.metrics import SegEvaluator, binary_metrics
from paddleseg_lite.utils.metrics.threshold import best_f1_threshold

BINARY_KEYS = ("F1", "Se", "Sp", "Acc", "AUC")
MULTICLASS_KEYS = ("mIoU", "Acc", "Dice", "Kappa")
BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED = 1000, 0


def region(evaluator):
    return "fov" if evaluator.has_fov else "image"


def metrics_of(evaluator):
    """The reported numbers of one evaluator: per-fold and pooled use this same function."""
    result = {"images": len(evaluator.samples)}
    if evaluator.num_classes != 2:
        seg = evaluator.paddleseg_metrics()
        return dict(result, mIoU=seg["miou"], Acc=seg["acc"], Dice=seg["mdice"], Kappa=seg["kappa"])
    counts = evaluator.confusion[region(evaluator)].binary_counts(evaluator.fg_class)
    m = binary_metrics(*counts)
    result.update(F1=m["dice"], Se=m["sensitivity"], Sp=m["specificity"], Acc=m["accuracy"],
                  counts=dict(zip(("tp", "fp", "fn", "tn"), counts)))
    if evaluator.auc:
        result["AUC"] = float(evaluator.auc[region(evaluator)].auc())
    for name, interval in evaluator.bootstrap(BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED).items():
        result[{"dice": "F1", "auc": "AUC"}[name] + "_ci95"] = list(interval)
    return result


def pooled_evaluator(evaluators):
    """One SegEvaluator holding every fold's counts and per-image records."""
    first = next(iter(evaluators))
    pooled = SegEvaluator(first.num_classes, first.ignore_index, first.fg_class, first.auc_bins)
    for evaluator in evaluators:
        pooled.merge(evaluator)
    return pooled


def f1_at(hist, threshold):
    """F1 of (2, bins) negative/positive histogram counts with foreground where p >= threshold."""
    k = int(round(threshold * hist.shape[-1]))
    tp, fp = int(hist[1, k:].sum()), int(hist[0, k:].sum())
    return binary_metrics(tp, fp, int(hist[1].sum()) - tp, int(hist[0].sum()) - fp)["dice"]


def nested_thresholds(per_fold):
    """{fold: {threshold, F1}}: each fold at the F1-best threshold of the other folds' held-out pixels."""
    hists = {fold: ev.auc[region(ev)].counts[0] for fold, ev in per_fold.items()}
    result = {}
    for fold, hist in hists.items():
        others = sum(h for f, h in hists.items() if f != fold)
        if others[1].sum() == 0:
            continue
        threshold = best_f1_threshold(others)["threshold"]
        result[fold] = {"threshold": threshold, "F1": f1_at(hist, threshold)}
    return result


def final_model_threshold(pooled):
    """{threshold, F1} of the `pooled` evaluator's held-out pixels (None without a foreground pixel): the
    F1-best threshold for a model trained on all the images (each pixel was scored by a model that never
    saw it; nnU-Net chooses its post-processing so)."""
    hist = pooled.auc[region(pooled)].counts[0]
    if hist[1].sum() == 0:
        return None
    best = best_f1_threshold(hist)
    return {"threshold": best["threshold"], "F1": best["f1"]}


def summarize(per_fold):
    """The cross-validation summary of {fold: SegEvaluator} (see the module docstring)."""
    folds = {fold: metrics_of(ev) for fold, ev in per_fold.items()}
    keys = [k for k in (BINARY_KEYS if len(folds) and "F1" in next(iter(folds.values())) else MULTICLASS_KEYS)
            if all(k in m for m in folds.values())]
    pooled = pooled_evaluator(per_fold.values())
    summary = {"folds": folds, "keys": keys,
               "mean": {k: float(np.mean([m[k] for m in folds.values()])) for k in keys},
               "std": {k: float(np.std([m[k] for m in folds.values()], ddof=1)) if len(folds) > 1 else 0.0
                       for k in keys},
               "pooled": metrics_of(pooled)}
    if "AUC" in keys:
        if len(per_fold) > 1:
            summary["nested_threshold"] = nested_thresholds(per_fold)
        final = final_model_threshold(pooled)
        if final:
            summary["final_model_threshold"] = final
    return summary


def markdown(summary, title):
    """The summary as a markdown table (per fold, mean +/- std, pooled, pooled 95% interval)."""
    keys = summary["keys"]
    lines = ["### " + title, "", "| fold | images | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
    for fold, m in summary["folds"].items():
        lines.append("| {} | {} | ".format(fold, m["images"]) + " | ".join("{:.4f}".format(m[k]) for k in keys) + " |")
    lines.append("| mean +/- std | | " + " | ".join(
        "{:.4f} +/- {:.4f}".format(summary["mean"][k], summary["std"][k]) for k in keys) + " |")
    pooled = summary["pooled"]
    lines.append("| pooled | {} | ".format(pooled["images"]) + " | ".join("{:.4f}".format(pooled[k]) for k in keys)
                 + " |")
    if any(k + "_ci95" in pooled for k in keys):
        lines.append("| pooled 95% CI (bootstrap over images) | | " + " | ".join(
            "[{:.4f}, {:.4f}]".format(*pooled[k + "_ci95"]) if k + "_ci95" in pooled else "" for k in keys) + " |")
    nested = summary.get("nested_threshold")
    if nested:
        lines += ["", "Threshold chosen on the other folds' held-out images: " + ", ".join(
            "fold {} t={:.3f} F1 {:.4f}".format(f, r["threshold"], r["F1"]) for f, r in nested.items())
            + "; mean F1 {:.4f}".format(np.mean([r["F1"] for r in nested.values()]))]
    final = summary.get("final_model_threshold")
    if final:
        lines += ["", "Threshold for a model trained on all the images (F1-best on every held-out pixel): {:.4f} "
                  "(pooled F1 at it {:.4f}): that model's `--threshold` in predict, val and export".format(
                      final["threshold"], final["F1"])]
    return "\n".join(lines) + "\n"
