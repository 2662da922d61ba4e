"""The decision threshold that maximises F1, read off the AUC score histogram (no second pass over the data).

For AUC-ROC `core/val.py` already counts, per probability bin, the negative and positive pixels of the
foreground class inside the FOV (`AucHistogram.counts`). Predicting "vessel where p >= k / bins" makes
every pixel of the bins >= k positive, so reverse cumulative sums give TP and FP at every bin edge at
once, and F1 = 2TP / (2TP + FP + FN). With a power-of-two number of bins (val's 65536) `floor(p * bins)
>= k` is exactly `p >= k / bins` for a float32 p, so the F1 found here is the F1 of thresholding the
probabilities at the returned value, not an approximation. Written by hand: sklearn's
`precision_recall_curve` needs every score, not bin counts.
"""
import numpy as np

from paddleseg_lite.utils.metrics.confusion import binary_metrics


def _binary_counts_array(counts):
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim == 3 and counts.shape[0] == 1:  # an AucHistogram of a binary task tracks one class
        counts = counts[0]
    if counts.ndim != 2 or counts.shape[0] != 2 or counts.shape[1] < 2:
        raise ValueError("best_f1_threshold: counts must be (2, bins) or (1, 2, bins) with bins >= 2, got shape "
                         "{}".format(counts.shape))
    return counts


def _middle_of_first_best_run(values):
    """Index of the largest value; among ties, the middle of the first run of consecutive tied indices
    (edges inside a gap between occupied bins give the same predictions: take the gap's middle)."""
    best = np.flatnonzero(values == values.max())
    breaks = np.flatnonzero(np.diff(best) != 1)
    run = best[:breaks[0] + 1] if breaks.size else best
    return int(run[len(run) // 2])


def best_f1_threshold(counts):
    """The bin edge t that maximises the F1 of "foreground where p >= t", with the metrics there.

    Args:
        counts (array): (2, bins) int counts of negatives ([0]) and positives ([1]) per probability bin
            over [0, 1] in ascending order (bin b holds b / bins <= p < (b + 1) / bins), or the
            (1, 2, bins) `AucHistogram.counts` of a binary task.

    Returns:
        dict: threshold (k / bins, k in [0, bins)), f1, sensitivity, specificity, accuracy, precision,
        iou (`binary_metrics` at that threshold; f1 is its dice), tp, fp, fn, tn (ints).

    Raises:
        ValueError: counts of another shape, or no positive pixel (F1 is 0 at every threshold).
    """
    neg, pos = _binary_counts_array(counts)
    if pos.sum() == 0:
        raise ValueError("best_f1_threshold: no positive (foreground) pixel, so no threshold is better than another")
    tp = np.cumsum(pos[::-1])[::-1]  # tp[k]: positives predicted positive at threshold k / bins
    fp = np.cumsum(neg[::-1])[::-1]
    fn = pos.sum() - tp
    k = _middle_of_first_best_run(2 * tp / (2 * tp + fp + fn).astype(np.float64))
    counts = {"tp": int(tp[k]), "fp": int(fp[k]), "fn": int(fn[k]), "tn": int(neg.sum() - fp[k])}
    metrics = binary_metrics(counts["tp"], counts["fp"], counts["fn"], counts["tn"])
    return dict(threshold=k / len(pos), f1=metrics.pop("dice"), **metrics, **counts)
