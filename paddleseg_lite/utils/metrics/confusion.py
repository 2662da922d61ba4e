"""PaddleSeg's class-wise metrics from a streaming confusion matrix, and the binary (vessel) metrics.

PaddleSeg's functions (`calculate_area`, `mean_iou`, `class_measurement`, `kappa`, `dice`) keep their
names and definitions so the numbers compare with its model zoo.
"""
import numpy as np

from paddleseg_lite.utils.labels import squeeze_label
from paddleseg_lite.utils.metrics.arrays import divide, match_shape, to_numpy, valid_labels


class ConfusionMatrix:
    """Streaming C×C confusion matrix; rows are ground-truth classes, columns predicted classes.

    Pixels whose label is `ignore_index` (or outside `mask`) are not counted at all. PaddleSeg leaves
    `label_area` unmasked, which only differs when `ignore_index < num_classes`.

    Args:
        num_classes (int): number of classes C (2 for a binary, 1-channel model).
        ignore_index (int): label value that is never counted.

    Attributes:
        matrix (np.ndarray): int64 C×C counts; sum these across ranks / shards to merge.

    Shape:
        update: pred and label H×W, N×H×W or N×1×H×W (same shape after dropping axis 1).
    """

    def __init__(self, num_classes, ignore_index=255):
        if int(num_classes) < 1:
            raise ValueError(f"ConfusionMatrix: num_classes must be >= 1, got {num_classes}")
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, pred, label, mask=None):
        """Adds one prediction (class ids) against its label; `mask` (bool/0-1) restricts the pixels.

        Returns:
            np.ndarray: this update's own C×C int64 matrix (handy for per-image metrics).
        """
        label = squeeze_label(to_numpy(label))
        pred = match_shape(to_numpy(pred), label.shape, "pred")
        valid = valid_labels(label, self.num_classes, self.ignore_index, mask, "ConfusionMatrix")
        pred = pred[valid].astype(np.int64)
        if pred.size and (pred.min() < 0 or pred.max() >= self.num_classes):
            raise ValueError(f"pred holds class ids outside [0, {self.num_classes})")
        c = self.num_classes
        index = label[valid].astype(np.int64) * c + pred
        update = np.bincount(index, minlength=c * c).reshape(c, c).astype(np.int64)
        self.matrix += update
        return update

    def merge(self, other):
        """Adds another ConfusionMatrix (or a raw C×C array) into this one; returns self."""
        other = other.matrix if isinstance(other, ConfusionMatrix) else np.asarray(other)
        if other.shape != self.matrix.shape:
            raise ValueError(f"cannot merge a {other.shape} matrix into {self.matrix.shape}")
        self.matrix += other.astype(np.int64)
        return self

    def areas(self):
        """Returns (intersect, pred_area, label_area), int64 vectors of length C (PaddleSeg's areas)."""
        return areas_from_matrix(self.matrix)

    def mean_iou(self):
        """Returns (class_iou, miou); see `mean_iou`."""
        return mean_iou(*self.areas())

    def class_measurement(self):
        """Returns (acc, class_precision, class_recall); see `class_measurement`."""
        return class_measurement(*self.areas())

    def kappa(self):
        """Returns Cohen's kappa (float64); see `kappa`."""
        return kappa(*self.areas())

    def dice(self):
        """Returns (class_dice, mdice); see `dice`."""
        return dice(*self.areas())

    def binary_counts(self, fg_class=1):
        """Returns (tp, fp, fn, tn) of `fg_class` against all other classes (one-vs-rest)."""
        return binary_counts(self.matrix, fg_class)


def areas_from_matrix(matrix):
    """(intersect, pred_area, label_area) int64 vectors from a C×C confusion matrix (rows = label)."""
    matrix = np.asarray(matrix, dtype=np.int64)
    return np.diag(matrix).copy(), matrix.sum(axis=0), matrix.sum(axis=1)


def calculate_area(pred, label, num_classes, ignore_index=255):
    """PaddleSeg's per-class areas of one prediction.

    Args:
        pred (array | Tensor): predicted class ids, H×W, N×H×W or N×1×H×W.
        label (array | Tensor): ground truth of the same shape.
        num_classes (int): C.
        ignore_index (int): label value excluded from every area.

    Returns:
        tuple: (intersect, pred_area, label_area), int64 numpy vectors of length C.
    """
    cm = ConfusionMatrix(num_classes, ignore_index)
    cm.update(pred, label)
    return cm.areas()


def mean_iou(intersect_area, pred_area, label_area):
    """IoU per class (1 when the union is 0, as PaddleSeg) and their plain mean over all classes.

    Returns:
        tuple: (class_iou float64 vector, miou float).
    """
    intersect_area = np.asarray(intersect_area, dtype=np.int64)
    union = np.asarray(pred_area, dtype=np.int64) + np.asarray(label_area) - intersect_area
    class_iou = divide(intersect_area, union, 1.0)
    return class_iou, float(np.mean(class_iou))


def class_measurement(intersect_area, pred_area, label_area):
    """Pixel accuracy Σinter/Σpred_area plus per-class precision and recall (0 on empty denominators).

    Returns:
        tuple: (acc float, class_precision vector, class_recall vector).
    """
    acc = float(divide(np.sum(intersect_area), np.sum(pred_area), 0.0))
    return acc, divide(intersect_area, pred_area, 0.0), divide(intersect_area, label_area, 0.0)


def kappa(intersect_area, pred_area, label_area):
    """Cohen's kappa in float64: (po - pe) / (1 - pe) with T = Σlabel_area."""
    total = float(np.sum(label_area, dtype=np.float64))
    po = float(np.sum(intersect_area, dtype=np.float64)) / total
    pe = float(np.sum(np.asarray(pred_area, np.float64) * np.asarray(label_area, np.float64)))
    pe /= total * total
    return (po - pe) / (1 - pe)


def dice(intersect_area, pred_area, label_area):
    """Dice per class 2·inter/(pred+label) (0 when the denominator is 0, as PaddleSeg) and the mean.

    Returns:
        tuple: (class_dice float64 vector, mdice float).
    """
    den = np.asarray(pred_area, dtype=np.int64) + np.asarray(label_area, dtype=np.int64)
    class_dice = divide(2 * np.asarray(intersect_area, dtype=np.int64), den, 0.0)
    return class_dice, float(np.mean(class_dice))


def binary_counts(matrix, fg_class=1):
    """(tp, fp, fn, tn) ints of `fg_class` one-vs-rest from a C×C confusion matrix (rows = label)."""
    matrix = np.asarray(matrix, dtype=np.int64)
    tp = int(matrix[fg_class, fg_class])
    fp = int(matrix[:, fg_class].sum()) - tp
    fn = int(matrix[fg_class, :].sum()) - tp
    return tp, fp, fn, int(matrix.sum()) - tp - fp - fn


def binary_metrics(tp, fp, fn, tn):
    """Vessel metrics of the foreground class from its one-vs-rest counts.

    Empty denominators follow PaddleSeg (IoU 1, everything else 0), so with the same pixels
    `dice` and `iou` equal PaddleSeg's class Dice / IoU of the foreground class.

    MCC (Matthews correlation) is 0 when a row or column of the 2×2 table is empty (sklearn's rule).

    Returns:
        dict: dice (= F1), sensitivity (= recall), specificity, accuracy, iou, precision, mcc (floats).
    """
    tp, fp, fn, tn = (float(v) for v in (tp, fp, fn, tn))
    return {
        "dice": float(divide(2 * tp, 2 * tp + fp + fn, 0.0)),
        "sensitivity": float(divide(tp, tp + fn, 0.0)),
        "specificity": float(divide(tn, tn + fp, 0.0)),
        "accuracy": float(divide(tp + tn, tp + tn + fp + fn, 0.0)),
        "iou": float(divide(tp, tp + fp + fn, 1.0)),
        "precision": float(divide(tp, tp + fp, 0.0)),
        "mcc": float(divide(tp * tn - fp * fn, np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)), 0.0)),
    }
