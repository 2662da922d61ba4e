"""Binary cross entropy for foreground/background models (1 or 2 output channels).

Built from `loss: {types: [{type: BCELoss}], ...}`, typically with `model.num_classes: 1`.
"""
import paddle.nn as nn
import paddle.nn.functional as F

from paddleseg_lite.registry import LOSSES
from paddleseg_lite.models.losses.utils import EPS, prepare
from paddleseg_lite.utils.labels import is_sigmoid
from paddleseg_lite.utils.validate import check_number


@LOSSES.add_component
class BCELoss(nn.Layer):
    """Sigmoid binary cross entropy on the foreground logit, averaged over non-ignored pixels.

    The foreground logit z is the single channel of a 1-channel model; for a
    2-channel model it is z = x1 - x0, so sigmoid(z) = softmax(x)[1] and the loss
    equals 2-class cross entropy. More channels are an error (use CrossEntropyLoss).
    Per pixel: l = -(pos_weight * y * log sigmoid(z) + (1 - y) * log(1 - sigmoid(z))),
    y in {0, 1}; loss = mean(l * m) / (mean(m) + 1e-8), m = not ignored.

    Args:
        pos_weight (float|None): Weight of foreground pixels (e.g. #bg / #fg). Default None (1).
        ignore_index (int): Label value to ignore. Default 255.

    Returns:
        Tensor: scalar loss.

    Shape:
        logits: N x 1 x H x W or N x 2 x H x W; label: N x H x W int with values 0/1/ignore.
    """

    def __init__(self, pos_weight=None, ignore_index=255):
        super().__init__()
        self.pos_weight = 1.0 if pos_weight is None else check_number('BCELoss', 'pos_weight', pos_weight, low=0)
        self.ignore_index = ignore_index

    def forward(self, logits, label):
        if logits.shape[1] > 2:
            raise ValueError("BCELoss: logits have {} channels but BCELoss takes 1 or 2 (binary); use "
                             "CrossEntropyLoss or DiceLoss for multi-class models.".format(logits.shape[1]))
        label, mask = prepare(self, logits, label)
        z = logits[:, 0] if is_sigmoid(logits) else logits[:, 1] - logits[:, 0]
        y = label.astype('float32') * mask
        loss = self.pos_weight * y * F.softplus(-z) + (1 - y) * F.softplus(z)
        return (loss * mask).mean() / (mask.mean() + EPS)
