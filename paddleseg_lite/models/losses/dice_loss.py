"""Dice loss (PaddleSeg's definition, without its in-place label edit).

Built from `loss: {types: [{type: DiceLoss}], coef: [1]}`; called by the
trainer as `loss(logits, label)`.
"""
import paddle.nn as nn
import paddle.nn.functional as F

from paddleseg_lite.registry import LOSSES
from paddleseg_lite.models.losses.utils import EPS, prepare, weight_tensor
from paddleseg_lite.utils.labels import is_sigmoid
from paddleseg_lite.utils.validate import check_class_weight, check_number


@LOSSES.add_component
class DiceLoss(nn.Layer):
    """Per-class soft Dice loss, averaged over the batch, then over classes.

    For C > 1 channels, p = softmax and every class (background included) gets
    d_c = 1 - (2 sum(p_c y_c m) + smooth) / (sum(p_c m + y_c m) + smooth + 1e-8)
    per sample over its pixels (m = not ignored); the loss is
    sum_c weight_c * mean_batch(d_c) / C. For 1 channel, p = sigmoid and only the
    foreground class (label 1) is scored, as the classic binary `dice_coef`.

    Args:
        weight (list[float]|None): One weight per output channel. Default None (all 1).
        ignore_index (int): Label value excluded from both sums. Default 255.
        smooth (float): Laplace smoothing added to numerator and denominator. Default 1.0.

    Returns:
        Tensor: scalar loss.

    Shape:
        logits: N x C x H x W; label: N x H x W int.
    """

    def __init__(self, weight=None, ignore_index=255, smooth=1.0):
        super().__init__()
        self.weight = check_class_weight('DiceLoss', 'weight', weight)
        self.ignore_index = ignore_index
        self.smooth = check_number('DiceLoss', 'smooth', smooth, low=0)

    def forward(self, logits, label):
        label, mask = prepare(self, logits, label)
        num_channels = logits.shape[1]
        if is_sigmoid(logits):
            probs, onehot = F.sigmoid(logits), (label == 1).astype('float32').unsqueeze(1)
        else:
            probs = F.softmax(logits, axis=1)
            onehot = F.one_hot(label * mask.astype('int64'), num_channels).transpose([0, 3, 1, 2])
        mask = mask.unsqueeze(1)
        probs, onehot = probs * mask, onehot * mask
        inter = (probs * onehot).sum(axis=[2, 3])
        total = (probs + onehot).sum(axis=[2, 3])
        per_class = (1 - (2 * inter + self.smooth) / (total + self.smooth + EPS)).mean(axis=0)
        if self.weight is not None:
            per_class = per_class * weight_tensor('DiceLoss', self.weight, num_channels)
        return per_class.sum() / num_channels
