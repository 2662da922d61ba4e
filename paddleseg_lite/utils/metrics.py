"""Segmentation metrics: streaming confusion matrix, vessel metrics in/out of the FOV, AUC-ROC.

Sits at the end of the evaluation flow: `core/val.py` turns each image's logits into a prediction
(`core.infer.logits_to_pred`) and probabilities (`core.infer.logits_to_prob`) at the original label
size and feeds them here. Everything accumulates into int64 count arrays (`ConfusionMatrix.matrix`,
`AucHistogram.counts`) that can be summed across ranks, so memory is bounded whatever the dataset size.

PaddleSeg's functions (`calculate_area`, `mean_iou`, `class_measurement`, `kappa`, `dice`) keep their
names and definitions so the numbers compare with its model zoo.

Regions used by the vessel metrics (DRIVE marks outside-FOV pixels as `ignore_index` in the label and
ships the FOV mask separately):
  * ``fov``: pixels with ``fov == 1`` and ``label != ignore_index``.
  * ``image`` (whole image, as papers report it): every pixel of the image, with outside-FOV pixels
    (``fov == 0``) counted as true background (label 0); pixels inside the FOV whose label is
    ``ignore_index`` stay ignored. Without a FOV mask it is every pixel with ``label != ignore_index``.
"""
import csv
import os
import tempfile

import numpy as np

from paddleseg_lite.utils.errors import UserError

def _to_numpy(x):
    """Returns `x` (numpy array, paddle Tensor or nested list) as a numpy array."""
    if hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x)


def _squeeze_channel(x):
    """Drops a singleton axis 1 of a 4-D (N×1×H×W) array, as PaddleSeg does."""
    if x.ndim == 4 and x.shape[1] == 1:
        return x[:, 0]
    return x


def _match_shape(x, shape, what, target="the label shape"):
    """`x` reshaped to `shape` when they differ only by singleton axes; ValueError naming `what` otherwise."""
    if x.shape == tuple(shape):
        return x
    if [d for d in x.shape if d != 1] != [d for d in shape if d != 1]:
        raise ValueError(f"Shape of {what} {x.shape} does not match {target} {tuple(shape)}")
    return x.reshape(shape)


def _divide(num, den, empty_value):
    """Elementwise num/den in float64, with `empty_value` where den == 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, float(empty_value))
    np.divide(num, den, out=out, where=den != 0)
    return out


def _valid_labels(label, num_classes, ignore_index, mask):
    """Boolean (label-shaped) of the pixels to count; rejects labels outside [0, C) that are not ignored.

    Raises:
        UserError: a label value is neither a class id nor `ignore_index`.
    """
    valid = label != ignore_index
    if mask is not None:
        valid &= _match_shape(_to_numpy(mask), label.shape, "mask").astype(bool)
    bad = valid & ((label < 0) | (label >= num_classes))
    if bad.any():
        values = np.unique(label[bad])[:5].tolist()
        raise UserError(
            f"label values {values} are outside [0, {num_classes}) and not ignore_index "
            f"{ignore_index}: check num_classes / ignore_index, or the label files "
            f"(0/255 labels need converting to 0/1)")
    return valid


def whole_image_label(label, fov):
    """Label for whole-image metrics: outside-FOV pixels (fov == 0) become true background (0).

    Args:
        label (array): H×W (or N×H×W / N×1×H×W) class ids.
        fov (array | None): same shape, 1 inside the field of view; None returns `label` unchanged.
            Inside the FOV, `ignore_index` pixels keep their value (stay ignored).

    Returns:
        np.ndarray: a new label array (the input is not modified).
    """
    label = _squeeze_channel(_to_numpy(label))
    if fov is None:
        return label
    fov = _match_shape(_to_numpy(fov), label.shape, "fov")
    return np.where(fov.astype(bool), label, 0).astype(label.dtype)


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
        label = _squeeze_channel(_to_numpy(label))
        pred = _match_shape(_to_numpy(pred), label.shape, "pred")
        valid = _valid_labels(label, self.num_classes, self.ignore_index, mask)
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
    class_iou = _divide(intersect_area, union, 1.0)
    return class_iou, float(np.mean(class_iou))


def class_measurement(intersect_area, pred_area, label_area):
    """Pixel accuracy Σinter/Σpred_area plus per-class precision and recall (0 on empty denominators).

    Returns:
        tuple: (acc float, class_precision vector, class_recall vector).
    """
    acc = float(_divide(np.sum(intersect_area), np.sum(pred_area), 0.0))
    return acc, _divide(intersect_area, pred_area, 0.0), _divide(intersect_area, label_area, 0.0)


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
    class_dice = _divide(2 * np.asarray(intersect_area, dtype=np.int64), den, 0.0)
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

    Returns:
        dict: dice (= F1), sensitivity (= recall), specificity, accuracy, iou, precision (floats).
    """
    return {
        "dice": float(_divide(2 * tp, 2 * tp + fp + fn, 0.0)),
        "sensitivity": float(_divide(tp, tp + fn, 0.0)),
        "specificity": float(_divide(tn, tn + fp, 0.0)),
        "accuracy": float(_divide(tp + tn, tp + tn + fp + fn, 0.0)),
        "iou": float(_divide(tp, tp + fp + fn, 1.0)),
        "precision": float(_divide(tp, tp + fp, 0.0)),
    }


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
        prob = _to_numpy(prob)
        label = _squeeze_channel(_to_numpy(label))
        if prob.ndim == 3:
            prob = prob[None]
        if prob.shape[1] != self.num_classes:
            raise ValueError(f"prob shape {prob.shape} has not {self.num_classes} classes on axis 1")
        label = _match_shape(label, prob.shape[:1] + prob.shape[2:], "label", "prob's N×H×W")
        valid = _valid_labels(label, self.num_classes, self.ignore_index, mask)
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


class SegEvaluator:
    """Accumulates one evaluation pass: PaddleSeg metrics, vessel metrics and AUC, global and per image.

    Pixel regions (see the module docstring): ``label`` = PaddleSeg's pixels (label != ignore_index),
    used for mIoU / Acc / Kappa / Dice; ``fov`` = inside the FOV (only once a FOV mask was given);
    ``image`` = whole image with outside-FOV pixels as true background. Global numbers pool the
    pixels of all images; per-image numbers are one dict per `update` call.

    Args:
        num_classes (int): C (2 for a binary, 1-channel model).
        ignore_index (int): label value never counted.
        fg_class (int): the class the vessel metrics are about.
        auc_bins (int): bins of the AUC histograms; 0 disables AUC.

    Attributes:
        confusion (dict): region -> ConfusionMatrix.
        auc (dict): region -> AucHistogram (empty when auc_bins == 0).
        per_image (list): one dict per image: ``name`` then ``<region>_<metric>`` for the ``fov``
            (when given) and ``image`` regions, including ``<region>_auc`` when `prob` was given.
    """

    def __init__(self, num_classes, ignore_index=255, fg_class=1, auc_bins=0):
        if not 0 <= fg_class < num_classes:
            raise ValueError(f"SegEvaluator: fg_class {fg_class} not in [0, {num_classes})")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.fg_class = fg_class
        self.auc_bins = auc_bins
        regions = ("label", "fov", "image")
        self.confusion = {r: ConfusionMatrix(num_classes, ignore_index) for r in regions}
        self.auc = {r: AucHistogram(num_classes, auc_bins, ignore_index)
                    for r in regions} if auc_bins else {}
        self.has_fov = False
        self.per_image = []

    def update(self, pred, label, fov=None, prob=None, name=""):
        """Adds one image.

        Args:
            pred (array | Tensor): class ids, H×W or 1×1×H×W.
            label (array | Tensor): ground truth of the same size.
            fov (array | Tensor | None): 1 inside the field of view.
            prob (array | Tensor | None): C×H×W or 1×C×H×W probabilities (needed for AUC).
            name (str): image name for the per-image record.

        Returns:
            dict: this image's per-image record.
        """
        pred = _to_numpy(pred)
        prob = None if prob is None else _to_numpy(prob)
        label = _squeeze_channel(_to_numpy(label))
        inputs = {"label": (label, None), "image": (whole_image_label(label, fov), None)}
        if fov is not None:
            self.has_fov = True
            inputs["fov"] = (label, _squeeze_channel(_to_numpy(fov)))
        record = {"name": name}
        for region in ("fov", "image", "label"):
            if region not in inputs:
                continue
            region_label, mask = inputs[region]
            matrix = self.confusion[region].update(pred, region_label, mask)
            auc_counts = None
            if prob is not None and self.auc:
                auc_counts = self.auc[region].update(prob, region_label, mask)
            if region != "label":
                record.update(self._region_record(region, matrix, auc_counts))
        self.per_image.append(record)
        return record

    def _region_record(self, region, matrix, auc_counts):
        """Per-image ``<region>_<metric>`` entries from one image's counts."""
        values = binary_metrics(*binary_counts(matrix, self.fg_class))
        if auc_counts is not None:
            values["auc"] = counts_auc(auc_counts)
        return {f"{region}_{key}": value for key, value in values.items()}

    def merge(self, other):
        """Adds another SegEvaluator's counts and per-image records (e.g. from another rank)."""
        for region, cm in self.confusion.items():
            cm.merge(other.confusion[region])
        for region, hist in self.auc.items():
            hist.merge(other.auc[region])
        self.has_fov = self.has_fov or other.has_fov
        self.per_image.extend(other.per_image)
        return self

    def vessel_metrics(self):
        """Global vessel metrics: {'fov': {...} (only with a FOV), 'image': {...}}, plus 'auc' if tracked."""
        result = {}
        for region in ("fov", "image") if self.has_fov else ("image",):
            values = binary_metrics(*self.confusion[region].binary_counts(self.fg_class))
            if self.auc:
                values["auc"] = self.auc[region].auc()
            result[region] = values
        return result

    def paddleseg_metrics(self):
        """PaddleSeg's numbers over the ``label`` region.

        Returns:
            dict: miou, acc, kappa, mdice (floats), class_iou, class_precision, class_recall,
            class_dice (float64 vectors), and auc (float) when tracked.
        """
        cm = self.confusion["label"]
        class_iou, miou = cm.mean_iou()
        acc, class_precision, class_recall = cm.class_measurement()
        class_dice, mdice = cm.dice()
        result = {"miou": miou, "acc": acc, "kappa": cm.kappa(), "mdice": mdice,
                  "class_iou": class_iou, "class_precision": class_precision,
                  "class_recall": class_recall, "class_dice": class_dice}
        if self.auc:
            result["auc"] = self.auc["label"].auc()
        return result


def write_per_image_csv(records, path):
    """Writes per-image records (dicts, same keys) as CSV atomically (temp file + rename).

    Args:
        records (list[dict]): e.g. `SegEvaluator.per_image`; columns follow the first record's keys
            (plus any later new keys); floats get 6 decimals.
        path (str): destination; its directory is created when missing.
    """
    columns = []
    for record in records:
        columns.extend(key for key in record if key not in columns)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(prefix=".per_image_", suffix=".csv.tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            for record in records:
                writer.writerow([_csv_cell(record.get(key, "")) for key in columns])
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, path)
    except BaseException:
        os.unlink(tmp_path)
        raise


def _csv_cell(value):
    """Formats floats with 6 decimals, anything else with str()."""
    return f"{value:.6f}" if isinstance(value, float) else value
