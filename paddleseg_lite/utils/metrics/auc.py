"""AUC-ROC and average precision (PR-AUC) from fixed-bin score histograms (bounded memory, summable
across ranks): one histogram per class gives both curves, so AP costs nothing extra per image."""
import numpy as np

from paddleseg_lite.utils.labels import squeeze_label
from paddleseg_lite.utils.metrics.arrays import divide, match_shape, to_numpy, valid_labels


class AucHistogram:
    """AUC-ROC from fixed-bin probability histograms: bounded memory, mergeable across ranks.

    For each reported class the positive (label == class) and negative (any other counted label)
    pixels are counted per probability bin. `auc()` integrates the ROC by trapezoids over the bins,
    which is the Mann-Whitney statistic with every pair inside one bin counted as a half (exact ties
    are exact; distinct values sharing a bin cost at most about 1/bins).

    Args:
        num_classes (int): C (>= 2; a 1-channel binary model gives 2-channel probabilities).
        bins (int): histogram bins over [0, 1].
        ignore_index (int): label value never counted.

    Attributes:
        classes (list): the classes tracked: [1] for C == 2 (the foreground, like PaddleSeg's
            roc_auc_score(label, p[:, 1])), all classes one-vs-rest otherwise.
        counts (np.ndarray): int64 of shape (len(classes), 2, bins); [:, 0] negatives, [:, 1]
            positives. Sum these across ranks to merge.

    Shape:
        update: prob C×H×W or N×C×H×W; label H×W, N×H×W or N×1×H×W; mask like label.
    """

    def __init__(self, num_classes, bins=65536, ignore_index=255):
        if int(num_classes) < 2:
            raise ValueError(f"AucHistogram: num_classes must be >= 2, got {num_classes}")
        if int(bins) < 2:
            raise ValueError(f"AucHistogram: bins must be >= 2, got {bins}")
        self.num_classes = int(num_classes)
        self.bins = int(bins)
        self.ignore_index = ignore_index
        self.classes = [1] if self.num_classes == 2 else list(range(self.num_classes))
        self.counts = np.zeros((len(self.classes), 2, self.bins), dtype=np.int64)

    def update(self, prob, label, mask=None):
        """Adds probabilities of one image or batch; returns this update's own counts array."""
        prob = to_numpy(prob)
        label = squeeze_label(to_numpy(label))
        if prob.ndim == 3:
            prob = prob[None]
        if prob.shape[1] != self.num_classes:
            raise ValueError(f"prob shape {prob.shape} has not {self.num_classes} classes on axis 1")
        label = match_shape(label, prob.shape[:1] + prob.shape[2:], "label", "prob's N×H×W")
        valid = valid_labels(label, self.num_classes, self.ignore_index, mask, "AucHistogram")
        label = label[valid]
        update = np.zeros_like(self.counts)
        for row, cls in enumerate(self.classes):
            p = prob[:, cls][valid].astype(np.float64)
            index = np.clip((p * self.bins).astype(np.int64), 0, self.bins - 1)
            index += self.bins * (label == cls)
            update[row] = np.bincount(index, minlength=2 * self.bins).reshape(2, self.bins)
        self.counts += update
        return update

    def merge(self, other):
        """Adds another AucHistogram (or a raw counts array) into this one; returns self."""
        other = other.counts if isinstance(other, AucHistogram) else np.asarray(other)
        if other.shape != self.counts.shape:
            raise ValueError(f"cannot merge counts {other.shape} into {self.counts.shape}")
        self.counts += other.astype(np.int64)
        return self

    def class_auc(self):
        """Per tracked class AUC (float64 vector, NaN for a class without positives or negatives)."""
        return np.array([histogram_auc(neg, pos) for neg, pos in self.counts])

    def auc(self):
        """Foreground AUC for 2 classes, the macro mean (over defined classes) for C > 2; NaN if none."""
        return counts_auc(self.counts)

    def ap(self):
        """Average precision, foreground for 2 classes, the macro mean for C > 2; NaN if no positives."""
        return counts_ap(self.counts)


def counts_auc(counts):
    """Macro-mean AUC over the rows of an AucHistogram-style (K, 2, bins) counts array (NaN rows skipped)."""
    values = np.array([histogram_auc(neg, pos) for neg, pos in counts])
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def histogram_auc(neg, pos):
    """AUC of positives scoring above negatives from per-bin counts (ties within a bin count half).

    Args:
        neg (array): negatives per bin, ascending probability.
        pos (array): positives per bin.

    Returns:
        float: the AUC, NaN when there are no positives or no negatives.
    """
    neg = np.asarray(neg, dtype=np.float64)
    pos = np.asarray(pos, dtype=np.float64)
    n_neg, n_pos = neg.sum(), pos.sum()
    if n_neg == 0 or n_pos == 0:
        return float("nan")
    neg_below = np.cumsum(neg) - neg
    return float(np.sum(pos * (neg_below + 0.5 * neg)) / (n_pos * n_neg))


def counts_ap(counts):
    """Macro-mean average precision over the rows of a (K, 2, bins) counts array (NaN rows skipped)."""
    values = np.array([histogram_ap(neg, pos) for neg, pos in counts])
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def histogram_ap(neg, pos):
    """Average precision (area under the step-wise precision-recall curve) from per-bin counts.

    One threshold per bin, from the highest bin down: AP = Σ_k (R_k - R_{k-1}) · P_k with P_k, R_k the
    precision and recall of calling every pixel in bins >= k positive (sklearn's
    `average_precision_score`, with scores sharing a bin treated as tied).

    Returns:
        float: the AP, NaN when there are no positives.
    """
    tp = np.cumsum(np.asarray(pos, dtype=np.float64)[::-1])
    fp = np.cumsum(np.asarray(neg, dtype=np.float64)[::-1])
    if tp[-1] == 0:
        return float("nan")
    recall_step = np.diff(tp, prepend=0.0) / tp[-1]
    return float(np.sum(recall_step * divide(tp, tp + fp, 0.0)))
