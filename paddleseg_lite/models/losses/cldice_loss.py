"""clDice (Shit et al. 2021): Dice on soft skeletons, for thin tubular structures like vessels.

Built from `loss: {types: [{type: clDiceLoss}], ...}`, alone or next to DiceLoss
(`types: [DiceLoss, clDiceLoss], coef: [0.5, 0.5]` or inside a MixedLoss).
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddleseg_lite.registry import LOSSES
from paddleseg_lite.models.losses.utils import EPS, foreground_probability, prepare
from paddleseg_lite.utils.validate import check_int, check_number


def soft_erode(x):
    """Soft erosion: min over a 3-pixel cross (min of 3x1 and 1x3 min-pools). x: N x 1 x H x W."""
    vertical = -F.max_pool2d(-x, kernel_size=(3, 1), stride=1, padding=(1, 0))
    horizontal = -F.max_pool2d(-x, kernel_size=(1, 3), stride=1, padding=(0, 1))
    return paddle.minimum(vertical, horizontal)


def soft_dilate(x):
    """Soft dilation: 3x3 max-pool. x: N x 1 x H x W."""
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


def soft_skeleton(x, iters):
    """Soft skeleton of a probability map by iterated soft morphological opening.

    Args:
        x (Tensor): N x 1 x H x W values in [0, 1].
        iters (int): Erosion steps; should exceed the half-width of the thickest structure.

    Returns:
        Tensor: N x 1 x H x W soft skeleton in [0, 1].
    """
    skeleton = F.relu(x - soft_dilate(soft_erode(x)))
    for _ in range(iters):
        x = soft_erode(x)
        delta = F.relu(x - soft_dilate(soft_erode(x)))
        skeleton = skeleton + F.relu(delta - skeleton * delta)
    return skeleton


@LOSSES.add_component
class clDiceLoss(nn.Layer):
    """1 - clDice between the foreground probability and the foreground label.

    p = P(foreground) (sigmoid of a 1-channel logit, else 1 - softmax[:, 0]);
    y = label > 0; both are zeroed at ignored pixels. With S_p, S_y their soft
    skeletons and sums over the whole batch:
    Tprec = (sum(S_p y) + smooth) / (sum(S_p) + smooth), Tsens = (sum(S_y p) + smooth) / (sum(S_y) + smooth),
    loss = 1 - 2 Tprec Tsens / (Tprec + Tsens).

    Args:
        iters (int): Soft-skeleton iterations. Default 3.
        smooth (float): Smoothing of both ratios. Default 1.0.
        ignore_index (int): Label value to ignore. Default 255.

    Returns:
        Tensor: scalar loss.

    Shape:
        logits: N x C x H x W (C >= 1); label: N x H x W int.
    """

    def __init__(self, iters=3, smooth=1.0, ignore_index=255):
        super().__init__()
        self.iters = check_int('clDiceLoss', 'iters', iters, low=0)
        self.smooth = check_number('clDiceLoss', 'smooth', smooth, low=0)
        self.ignore_index = ignore_index

    def forward(self, logits, label):
        label, mask = prepare(self, logits, label)
        prob = (foreground_probability(logits) * mask).unsqueeze(1)
        target = ((label > 0).astype('float32') * mask).unsqueeze(1)
        skel_prob, skel_target = soft_skeleton(prob, self.iters), soft_skeleton(target, self.iters)
        precision = ((skel_prob * target).sum() + self.smooth) / (skel_prob.sum() + self.smooth + EPS)
        sensitivity = ((skel_target * prob).sum() + self.smooth) / (skel_target.sum() + self.smooth + EPS)
        return 1 - 2 * precision * sensitivity / (precision + sensitivity + EPS)
