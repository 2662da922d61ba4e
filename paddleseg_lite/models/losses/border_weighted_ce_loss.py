"""The U-Net paper's border-weighted cross entropy (Ronneberger et al. 2015, eq. 2).

Built from `loss: {types: [{type: BorderWeightedCELoss, w0: 10, sigma: 5}], ...}`.
Pixels of background squeezed between two foreground objects (the gap between
two nearby vessels) get a large weight, so the network learns to keep them apart.
"""
import cv2
import numpy as np
import paddle
import paddle.nn as nn

from paddleseg_lite.registry import LOSSES
from paddleseg_lite.models.losses.utils import EPS, pixel_nll, prepare
from paddleseg_lite.utils.validate import check_int, check_number


def class_balance_weights(label, valid):
    """w_c per pixel: inverse class frequency over valid pixels, normalised to mean 1 over them.

    With K classes present and n valid pixels, class k gets n / (K * count_k).
    Invalid pixels get 0.
    """
    weights = np.zeros(label.shape, np.float32)
    classes, counts = np.unique(label[valid], return_counts=True)
    for cls, count in zip(classes, counts):
        weights[valid & (label == cls)] = valid.sum() / (len(classes) * count)
    return weights


def component_distances(foreground, max_components):
    """Euclidean distance of every pixel to each of the `max_components` largest components.

    Returns:
        np.ndarray|None: K x H x W float32 (K >= 2), or None with fewer than two components.
    """
    count, components, stats, _ = cv2.connectedComponentsWithStats(foreground.astype(np.uint8), connectivity=8)
    if count - 1 < 2:
        return None
    largest = np.argsort(-stats[1:, cv2.CC_STAT_AREA], kind='stable')[:max_components] + 1
    return np.stack([cv2.distanceTransform((components != k).astype(np.uint8), cv2.DIST_L2,
                                           cv2.DIST_MASK_PRECISE) for k in largest])


def border_weight_map(label, w0=10.0, sigma=5.0, class_balance=True, ignore_index=255, max_components=10):
    """The U-Net weight map w(x) = w_c(x) + w0 * exp(-(d1 + d2)^2 / (2 sigma^2)).

    d1, d2: distances to the nearest and second-nearest foreground component
    (8-connected components of label > 0). The border term is added to background
    pixels only, as in the paper, and only the `max_components` largest components
    are considered (an approximation that bounds the cost at that many distance
    transforms; small fragments then do not create borders). w_c is
    `class_balance_weights` (or 1). Ignored pixels get weight 0.

    Args:
        label (np.ndarray): H x W integer class ids.
        w0 (float): Border weight. Default 10.
        sigma (float): Border width in pixels. Default 5.
        class_balance (bool): Use inverse class frequency for w_c. Default True.
        ignore_index (int): Label value that gets weight 0. Default 255.
        max_components (int): Components used for d1/d2 (>= 2). Default 10.

    Returns:
        np.ndarray: H x W float32 weights.
    """
    label = np.asarray(label)
    valid = label != ignore_index
    weights = class_balance_weights(label, valid) if class_balance else valid.astype(np.float32)
    distances = component_distances(valid & (label > 0), max_components)
    if distances is not None:
        nearest_two = np.partition(distances, 1, axis=0)[:2].sum(axis=0)
        border = w0 * np.exp(-nearest_two ** 2 / (2 * sigma ** 2))
        background = valid & (label == 0)
        weights[background] += border[background].astype(np.float32)
    return weights


@LOSSES.add_component
class BorderWeightedCELoss(nn.Layer):
    """Cross entropy weighted per pixel by `border_weight_map` of the label.

    loss = mean(w * l) / (mean(m) + 1e-8): the weighted sum over the number of
    non-ignored pixels (w_c averages to 1, so the scale stays that of plain cross
    entropy plus the border bonus). The map is computed on the CPU from the label
    (no gradient). A 1-channel logit z is read as the two-class logits [0, z].

    Args:
        w0 (float): Border weight. Default 10.
        sigma (float): Border width in pixels. Default 5.
        class_balance (bool): Inverse-class-frequency term w_c. Default True.
        ignore_index (int): Label value to ignore. Default 255.
        max_components (int): Largest components used for the border term. Default 10.

    Returns:
        Tensor: scalar loss.

    Shape:
        logits: N x C x H x W; label: N x H x W int.
    """

    def __init__(self, w0=10.0, sigma=5.0, class_balance=True, ignore_index=255, max_components=10):
        super().__init__()
        self.w0 = check_number('BorderWeightedCELoss', 'w0', w0, low=0)
        self.sigma = check_number('BorderWeightedCELoss', 'sigma', sigma, low=0, low_open=True)
        self.class_balance = bool(class_balance)
        self.ignore_index = ignore_index
        self.max_components = check_int('BorderWeightedCELoss', 'max_components', max_components, low=2)

    def forward(self, logits, label):
        label, mask = prepare(self, logits, label)
        maps = [border_weight_map(lab, self.w0, self.sigma, self.class_balance, self.ignore_index,
                                  self.max_components) for lab in label.numpy()]
        weights = paddle.to_tensor(np.stack(maps))
        return (weights * pixel_nll(logits, label, mask)).mean() / (mask.mean() + EPS)
