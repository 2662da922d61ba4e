"""ROC and precision-recall curves of the evaluation report, from the AUC's score histogram.

`utils.metrics.AucHistogram` keeps, per tracked class, the negatives and positives of each probability
bin; lowering the threshold bin by bin gives every point of both curves (the same counts the AUC is
integrated from, so the plotted curve and the printed AUC agree). Drawn with matplotlib's Agg renderer
(a `Figure` of its own: no pyplot state, no display needed).
"""
import io
import os

import numpy as np

from paddleseg_lite.utils.imageio import write_bytes_atomic
from paddleseg_lite.utils.metrics import histogram_auc

FIGSIZE = (4.8, 4.4)


def curve_points(neg, pos):
    """Points of the ROC and PR curves of one class, the threshold lowered from above the top score.

    Args:
        neg (array): negatives per probability bin, ascending.
        pos (array): positives per bin.

    Returns:
        tuple: (fpr, tpr, precision) float64 arrays of the same length, starting at the threshold above
        every score (fpr = tpr = 0, precision NaN) and ending below every score (fpr = tpr = 1); None when
        there are no positives or no negatives.
    """
    neg, pos = np.asarray(neg, np.float64), np.asarray(pos, np.float64)
    occupied = (neg + pos) > 0
    if neg.sum() == 0 or pos.sum() == 0:
        return None
    fp = np.concatenate([[0.0], np.cumsum(neg[occupied][::-1])])
    tp = np.concatenate([[0.0], np.cumsum(pos[occupied][::-1])])
    with np.errstate(invalid="ignore"):
        precision = tp / (tp + fp)
    return fp / fp[-1], tp / tp[-1], precision


def _class_label(num_classes, cls):
    return "vessels (class 1)" if num_classes == 2 else "class {}".format(cls)


def _save(figure, path):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    write_bytes_atomic(path, buffer.getvalue())


def _axes(figure, title, xlabel, ylabel):
    ax = figure.add_subplot()
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, xlim=(0, 1), ylim=(0, 1.01), aspect="equal")
    ax.grid(alpha=0.3)
    return ax


def write_curves(save_dir, histogram, metrics):
    """Write save_dir/roc.png and save_dir/pr.png from `histogram`'s counts.

    Args:
        save_dir (str): the report folder.
        histogram (AucHistogram): the evaluation's histogram of the reported region.
        metrics (dict): `evaluate_metrics`' metrics; for a binary task the prediction's own point
            (sensitivity_fg, specificity_fg, precision_fg) is marked on both curves.

    Returns:
        dict: {"roc": "roc.png", "pr": "pr.png"}, paths relative to save_dir.
    """
    from matplotlib.figure import Figure  # only when a report is written: importing it takes ~0.5 s

    roc, pr = Figure(figsize=FIGSIZE), Figure(figsize=FIGSIZE)
    roc_ax = _axes(roc, "ROC curve", "false positive rate (1 - specificity)", "true positive rate (sensitivity)")
    pr_ax = _axes(pr, "Precision-recall curve", "recall (sensitivity)", "precision")
    roc_ax.plot([0, 1], [0, 1], ls="--", color="0.6", lw=1)
    for cls, (neg, pos) in zip(histogram.classes, histogram.counts):
        points = curve_points(neg, pos)
        if points is None:
            continue
        fpr, tpr, precision = points
        label = _class_label(histogram.num_classes, cls)
        roc_ax.plot(fpr, tpr, lw=1.5, label="{}, AUC {:.4f}".format(label, histogram_auc(neg, pos)))
        pr_ax.plot(tpr[1:], precision[1:], lw=1.5, label=label)
    if histogram.num_classes == 2 and "sensitivity_fg" in metrics:
        se, sp, pr_value = metrics["sensitivity_fg"], metrics["specificity_fg"], metrics["precision_fg"]
        roc_ax.plot([1 - sp], [se], "o", color="crimson", label="prediction: Se {:.3f}, Sp {:.3f}".format(se, sp))
        pr_ax.plot([se], [pr_value], "o", color="crimson",
                   label="prediction: Se {:.3f}, Pr {:.3f}".format(se, pr_value))
    for ax, where in ((roc_ax, "lower right"), (pr_ax, "lower left")):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc=where, fontsize=8)
    _save(roc, os.path.join(save_dir, "roc.png"))
    _save(pr, os.path.join(save_dir, "pr.png"))
    return {"roc": "roc.png", "pr": "pr.png"}
