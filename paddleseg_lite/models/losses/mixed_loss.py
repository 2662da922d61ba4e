"""A weighted list of losses used as one `loss.types` entry.

`{type: MixedLoss, losses: [{type: CrossEntropyLoss}, {type: DiceLoss}], coef: [0.8, 0.2]}`;
the trainer sums the returned list.
"""

import paddle.nn as nn

from paddleseg_lite.registry import LOSSES
from paddleseg_lite.utils.validate import check_number


@LOSSES.add_component
class MixedLoss(nn.Layer):
    """Apply several losses to the same logits.

    Args:
        losses (list[nn.Layer]): The losses (built from their config dicts).
        coef (list[float]): One coefficient per loss.
        ignore_index (int|None): When given (e.g. synced from the dataset), it
            replaces the sub-losses' ignore_index. Default None (keep theirs).

    Returns:
        list[Tensor]: [coef_i * losses_i(logits, label)], one scalar per loss.
    """

    def __init__(self, losses, coef, ignore_index=None):
        super().__init__()
        if not isinstance(losses, list) or not isinstance(coef, list):
            raise TypeError("MixedLoss: losses and coef must both be lists, got {} and {}.".format(
                type(losses).__name__, type(coef).__name__))
        if len(losses) != len(coef):
            raise ValueError("MixedLoss: losses has {} entries but coef has {}; give one coef per loss.".format(
                len(losses), len(coef)))
        if not losses:
            raise ValueError("MixedLoss: losses is empty; list at least one loss.")
        if not all(isinstance(loss, nn.Layer) for loss in losses):
            raise TypeError("MixedLoss: every entry of losses must be a loss (a dict with `type:` in YAML).")
        self.losses = nn.LayerList(losses)
        self.coef = [check_number("MixedLoss", "coef[{}]".format(i), c, 0) for i, c in enumerate(coef)]
        self.ignore_index = ignore_index
        if ignore_index is not None:
            for loss in losses:
                if hasattr(loss, 'ignore_index'):
                    loss.ignore_index = ignore_index

    def forward(self, logits, label):
        return [c * loss(logits, label) for c, loss in zip(self.coef, self.losses)]
