"""`SegEvaluator`: everything one evaluation accumulates (PaddleSeg's pixels, inside the FOV, whole
image, AUC histograms, per-image records and samples for topology and bootstrap), and the per-image CSV."""
import csv
import os
import uuid

import numpy as np

from paddleseg_lite.utils.fileio import writing
from paddleseg_lite.utils.labels import squeeze_label
from paddleseg_lite.utils.metrics.arrays import to_numpy, whole_image_label
from paddleseg_lite.utils.metrics.auc import AucHistogram, counts_ap, counts_auc
from paddleseg_lite.utils.metrics.bootstrap import bootstrap_ci, coarse_counts
from paddleseg_lite.utils.metrics.confusion import ConfusionMatrix, binary_counts, binary_metrics
from paddleseg_lite.utils.metrics.topology import pooled_topology, topology_counts, topology_metrics


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
            (when given) and ``image`` regions, including ``<region>_auc`` and ``<region>_ap`` when
            `prob` was given, then clDice and the Betti errors of the image's primary region (``fov``
            when given, else ``image``).
        samples (list): one dict per image for the pooled topology and the bootstrap: ``counts``
            (tp, fp, fn, tn) and ``topology`` (see `topology_counts`) of the primary region, and
            ``hist`` (2×1024 int32, `bootstrap.coarse_counts`) when `prob` was given and C == 2.
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
        self.samples = []

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
        pred = to_numpy(pred)
        prob = None if prob is None else to_numpy(prob)
        label = squeeze_label(to_numpy(label))
        inputs = {"label": (label, None), "image": (whole_image_label(label, fov), None)}
        if fov is not None:
            self.has_fov = True
            inputs["fov"] = (label, squeeze_label(to_numpy(fov)))
        record, primary = {"name": name}, "fov" if fov is not None else "image"
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
            if region == primary:
                sample = self._sample(pred, *inputs[region], matrix, auc_counts)
        record.update({f"{primary}_{k}": v for k, v in topology_metrics(sample["topology"]).items()})
        self.per_image.append(record)
        self.samples.append(sample)
        return record

    def _sample(self, pred, label, mask, matrix, auc_counts):
        """One image's counts for the pooled topology and the bootstrap (its primary region)."""
        region = label != self.ignore_index
        if mask is not None:
            region &= mask.astype(bool)
        pred = pred.reshape(label.shape)
        sample = {"counts": binary_counts(matrix, self.fg_class),
                  "topology": topology_counts((pred == self.fg_class) & region, (label == self.fg_class) & region)}
        if auc_counts is not None and self.num_classes == 2:
            sample["hist"] = coarse_counts(auc_counts[0])
        return sample

    def _region_record(self, region, matrix, auc_counts):
        """Per-image ``<region>_<metric>`` entries from one image's counts."""
        values = binary_metrics(*binary_counts(matrix, self.fg_class))
        if auc_counts is not None:
            values["auc"] = counts_auc(auc_counts)
            values["ap"] = counts_ap(auc_counts)
        return {f"{region}_{key}": value for key, value in values.items()}

    def merge(self, other):
        """Adds another SegEvaluator's counts and per-image records (e.g. from another rank)."""
        for region, cm in self.confusion.items():
            cm.merge(other.confusion[region])
        for region, hist in self.auc.items():
            hist.merge(other.auc[region])
        self.has_fov = self.has_fov or other.has_fov
        self.per_image.extend(other.per_image)
        self.samples.extend(other.samples)
        return self

    def vessel_metrics(self):
        """Global vessel metrics: {'fov': {...} (only with a FOV), 'image': {...}}, plus 'auc' and 'ap'
        if tracked; the primary region ('fov' with a FOV) also has the pooled clDice and the mean Betti
        errors over images (see `topology.pooled_topology`)."""
        result = {}
        for region in ("fov", "image") if self.has_fov else ("image",):
            values = binary_metrics(*self.confusion[region].binary_counts(self.fg_class))
            if self.auc:
                values["auc"] = self.auc[region].auc()
                values["ap"] = self.auc[region].ap()
            result[region] = values
        result["fov" if self.has_fov else "image"].update(pooled_topology([s["topology"] for s in self.samples]))
        return result

    def bootstrap(self, resamples=1000, seed=0):
        """95% percentile-bootstrap intervals over images of the primary region's pooled F1 ('dice') and,
        with per-image histograms (C == 2, AUC tracked), AUC; {} with fewer than two images."""
        if len(self.samples) < 2:
            return {}
        hists = [s["hist"] for s in self.samples if "hist" in s]
        return bootstrap_ci(np.array([s["counts"] for s in self.samples]),
                            np.array(hists) if len(hists) == len(self.samples) else None, resamples, seed)

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
    tmp_path = os.path.join(directory, ".per_image_{}.csv.tmp".format(uuid.uuid4().hex[:8]))
    with writing(tmp_path, path):
        os.makedirs(directory, exist_ok=True)
        with open(tmp_path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            for record in records:
                writer.writerow([_csv_cell(record.get(key, "")) for key in columns])
        os.chmod(tmp_path, 0o644)
    os.replace(tmp_path, path)


def _csv_cell(value):
    """Formats floats with 6 decimals, anything else with str()."""
    return f"{value:.6f}" if isinstance(value, float) else value
