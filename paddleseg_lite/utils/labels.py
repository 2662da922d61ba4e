"""The label rules every stage shares: how many classes a model's output means, how a label batch
is shaped, and which label values are allowed.

Used by the datasets (label files), the losses (label tensors), the metrics and the static-graph
step (numpy batches), so the rule and its error message live here once.
"""
import numpy as np

from paddleseg_lite.utils.errors import UserError

HINT_0_255 = "labels look like 0/255 masks: convert them to 0/1 (tools/prepare_drive.py does for DRIVE)"
HINT_RANGE = "check num_classes / ignore_index and the label files"


def num_classes_of(channels):
    """Classes a model with `channels` output channels predicts: a 1-channel (sigmoid) model is binary,
    so it counts as 2 classes."""
    return max(int(channels), 2)


def is_sigmoid(logits):
    """True when N x C x H x W `logits` come from a 1-channel (sigmoid, binary) model."""
    return logits.shape[1] == 1


def binary_ok(model_classes, data_classes):
    """True when a model with `model_classes` outputs fits a dataset with `data_classes` classes
    (equal, or a 1-channel sigmoid model on a 2-class dataset)."""
    return model_classes == data_classes or (model_classes == 1 and num_classes_of(1) == data_classes)


def squeeze_label(label):
    """An N x 1 x H x W label (numpy array or paddle Tensor) as N x H x W; other shapes unchanged."""
    if label.ndim == 4 and label.shape[1] == 1:
        return label[:, 0]
    return label


def bad_label_values(values, num_classes, ignore_index):
    """Sorted distinct values of `values` that are neither a class id in [0, num_classes) nor ignore_index."""
    values = np.asarray(values)
    bad = values[((values < 0) | (values >= num_classes)) & (values != ignore_index)]
    return [int(v) for v in np.unique(bad)]


def check_label_values(values, num_classes, ignore_index, where):
    """Raise a UserError naming `where` (a label file, a loss, a metric) when `values` (label values,
    any shape) hold something other than class ids in [0, num_classes) and `ignore_index`."""
    bad = bad_label_values(values, num_classes, ignore_index)
    if bad:
        hint = HINT_0_255 if 255 in bad else HINT_RANGE
        raise UserError("{}: label values {} are outside [0, {}) and not ignore_index {}; {}".format(
            where, bad[:10], num_classes, ignore_index, hint))
