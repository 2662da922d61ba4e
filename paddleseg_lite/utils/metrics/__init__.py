"""Segmentation metrics: streaming confusion matrix, vessel metrics in/out of the FOV, AUC-ROC and average
precision, vessel topology (clDice, Betti errors) and bootstrap intervals over images.

Sits at the end of the evaluation flow: `core/val.py` turns each image's logits into a prediction
(`models.outputs.logits_to_pred`) and probabilities (`models.outputs.logits_to_prob`) at the original label
size and feeds them here. Everything accumulates into int64 count arrays (`ConfusionMatrix.matrix`,
`AucHistogram.counts`) that can be summed across ranks, so memory is bounded whatever the dataset size;
the topology metrics and the bootstrap interval keep a small record per image (12 ints and a 8 KiB
coarse score histogram, `SegEvaluator.samples`) of the primary region (inside the FOV when there is one).

PaddleSeg's functions (`calculate_area`, `mean_iou`, `class_measurement`, `kappa`, `dice`) keep their
names and definitions so the numbers compare with its model zoo.

Regions used by the vessel metrics (DRIVE marks outside-FOV pixels as `ignore_index` in the label and
ships the FOV mask separately):
  * ``fov``: pixels with ``fov == 1`` and ``label != ignore_index``.
  * ``image`` (whole image, as papers report it): every pixel of the image, with outside-FOV pixels
    (``fov == 0``) counted as true background (label 0); pixels inside the FOV whose label is
    ``ignore_index`` stay ignored. Without a FOV mask it is every pixel with ``label != ignore_index``.
"""
from paddleseg_lite.utils.metrics.arrays import whole_image_label
from paddleseg_lite.utils.metrics.auc import AucHistogram, counts_ap, counts_auc, histogram_ap, histogram_auc
from paddleseg_lite.utils.metrics.bootstrap import bootstrap_ci, coarse_counts
from paddleseg_lite.utils.metrics.confusion import (ConfusionMatrix, areas_from_matrix, binary_counts, binary_metrics,
                                                    calculate_area, class_measurement, dice, kappa, mean_iou)
from paddleseg_lite.utils.metrics.evaluator import SegEvaluator, write_per_image_csv
from paddleseg_lite.utils.metrics.topology import betti_numbers, cldice, skeletonize, topology_counts

__all__ = ["AucHistogram", "ConfusionMatrix", "SegEvaluator", "areas_from_matrix", "betti_numbers", "binary_counts",
           "binary_metrics", "bootstrap_ci", "calculate_area", "class_measurement", "cldice", "coarse_counts",
           "counts_ap", "counts_auc", "dice", "histogram_ap", "histogram_auc", "kappa", "mean_iou", "skeletonize",
           "topology_counts", "whole_image_label", "write_per_image_csv"]
