"""Lovasz-Softmax loss (Berman et al. 2018): a convex surrogate of the per-class Jaccard loss.

Built from `loss: {types: [{type: LovaszSoftmaxLoss}], ...}`; often mixed with
CrossEntropyLoss via MixedLoss.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddleseg_lite.models.losses.utils import as_two_class, prepare
from paddleseg_lite.registry import LOSSES


def lovasz_grad(gt_sorted):
    """Gradient of the Lovasz extension of the Jaccard loss w.r.t. errors sorted descending.

    Args:
        gt_sorted (Tensor): float 0/1 ground truth of one class, in the errors' order.

    Returns:
        Tensor: the same length as `gt_sorted`.
    """
    total = gt_sorted.sum()
    intersection = total - gt_sorted.cumsum(axis=0)
    union = total + (1 - gt_sorted).cumsum(axis=0)
    jaccard = 1 - intersection / union
    return paddle.concat([jaccard[:1], jaccard[1:] - jaccard[:-1]])


@LOSSES.add_component
class LovaszSoftmaxLoss(nn.Layer):
    """Mean over the classes present in the batch of the Lovasz hinge of |onehot - softmax|.

    All non-ignored pixels of the batch are pooled (not per image). A 1-channel
    logit z is read as the two-class logits [0, z]. A batch with no valid pixel
    gives 0 (with a gradient path).

    Args:
        ignore_index (int): Label value to ignore. Default 255.

    Returns:
        Tensor: scalar loss.

    Shape:
        logits: N x C x H x W; label: N x H x W int.
    """

    def __init__(self, ignore_index=255):
        super().__init__()
        self.ignore_index = ignore_index

    def forward(self, logits, label):
        label, mask = prepare(self, logits, label)
        probs = F.softmax(as_two_class(logits), axis=1)
        num_classes = probs.shape[1]
        keep = paddle.nonzero(mask.flatten() > 0).flatten()
        if keep.numel() == 0:
            return probs.sum() * 0
        probs = paddle.gather(probs.transpose([0, 2, 3, 1]).reshape([-1, num_classes]), keep)
        label = paddle.gather(label.flatten(), keep)
        losses = []
        for c in range(num_classes):
            fg = (label == c).astype('float32')
            if float(fg.sum()) == 0:
                continue
            errors = (fg - probs[:, c]).abs()
            order = paddle.argsort(errors, descending=True)
            losses.append((paddle.gather(errors, order) * lovasz_grad(paddle.gather(fg, order))).sum())
        return paddle.stack(losses).mean()
