"""Focal loss (Lin et al. 2017): cross entropy down-weighted on easy pixels.

Built from `loss: {types: [{type: FocalLoss, gamma: 2.0}], ...}`.
"""

import paddle
import paddle.nn as nn

from paddleseg_lite.registry import LOSSES
from paddleseg_lite.models.losses.utils import EPS, pixel_nll, prepare, safe_label, weight_tensor
from paddleseg_lite.utils.labels import num_classes_of
from paddleseg_lite.utils.validate import check_class_weight, check_number, is_number


@LOSSES.add_component
class FocalLoss(nn.Layer):
    """Per pixel: alpha_y * (1 - p_y)^gamma * (-log p_y), averaged over non-ignored pixels.

    p_y is the softmax probability of the true class (a 1-channel logit z is
    read as the two-class logits [0, z]). loss = mean(l) / (mean(m) + 1e-8).

    Args:
        alpha (float|list[float]): A scale for every pixel (PaddleSeg's 0.25), or one
            weight per class. Default 0.25.
        gamma (float): Focusing exponent >= 0; 0 gives alpha-scaled cross entropy. Default 2.0.
        ignore_index (int): Label value to ignore. Default 255.

    Returns:
        Tensor: scalar loss.

    Shape:
        logits: N x C x H x W; label: N x H x W int.
    """

    def __init__(self, alpha=0.25, gamma=2.0, ignore_index=255):
        super().__init__()
        if is_number(alpha):
            self.alpha = check_number('FocalLoss', 'alpha', alpha, low=0)
        else:
            self.alpha = check_class_weight('FocalLoss', 'alpha', alpha)
        self.gamma = check_number('FocalLoss', 'gamma', gamma, low=0)
        self.ignore_index = ignore_index

    def forward(self, logits, label):
        label, mask = prepare(self, logits, label)
        ce = pixel_nll(logits, label, mask)
        loss = (1 - paddle.exp(-ce)) ** self.gamma * ce
        if isinstance(self.alpha, list):
            class_alpha = weight_tensor('FocalLoss', self.alpha, num_classes_of(logits.shape[1]))
            loss = loss * paddle.gather(class_alpha, safe_label(label, mask).flatten()).reshape(label.shape)
        else:
            loss = loss * self.alpha
        return loss.mean() / (mask.mean() + EPS)
