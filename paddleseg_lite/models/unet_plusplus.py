"""UNet++ (Zhou et al. 2018): U-Net with nested, densely connected skip pathways.

Built from `model: {type: UNetPlusPlus, ...}`. Node X(i, j) (depth i, column j)
is a double conv over [X(i, 0..j-1), upsampled X(i+1, j-1)]; column 0 is the
encoder. With `deep_supervision` each top node X(0, 1..4) gets a 1x1 head.
"""
import paddle
import paddle.nn as nn

from paddleseg_lite.models.base import SegmentationModel
from paddleseg_lite.models.layers import double_conv, resize_to
from paddleseg_lite.registry import MODELS


@MODELS.add_component
class UNetPlusPlus(SegmentationModel):
    """UNet++ with optional deep supervision.

    Args:
        num_classes (int): Output channels (1 for a sigmoid binary model).
        in_channels (int): Image channels. Default 3.
        base_channels (int): Width at depth 0; depth i has base_channels * 2**i. Default 32 (the paper's).
        align_corners (bool): Bilinear `align_corners`. Default False.
        pretrained (str|None): Weights file or URL, loaded leniently. Default None.
        deep_supervision (bool): Return one logit per nested head. Default False.

    Returns:
        list[Tensor]: `[logits]` without deep supervision. With it, four logits
        from X(0,4), X(0,3), X(0,2), X(0,1), in both train and eval mode: the first
        is the full-depth head, which evaluation (logits[0]) uses; the config then
        needs four `loss.coef` entries (e.g. `types: [DiceLoss], coef: [1, 0.5, 0.5, 0.5]`).

    Shape:
        x: N x in_channels x H x W, H and W >= 16 -> each logit N x num_classes x H x W.
    """

    def __init__(self, num_classes, in_channels=3, base_channels=32, align_corners=False, pretrained=None,
                 deep_supervision=False):
        super().__init__(num_classes, in_channels, base_channels)
        widths = [base_channels * 2 ** i for i in range(5)]
        self.align_corners = align_corners
        self.pool = nn.MaxPool2D(kernel_size=2, stride=2)
        self.encoder = nn.LayerList([double_conv(a, b) for a, b in zip([in_channels] + widths[:-1], widths)])
        self.nested = nn.LayerList([
            nn.LayerList([double_conv(widths[i] * j + widths[i + 1], widths[i]) for i in range(5 - j)])
            for j in range(1, 5)])
        self.heads = nn.LayerList([nn.Conv2D(widths[0], num_classes, kernel_size=1)
                                   for _ in range(4 if deep_supervision else 1)])
        self.init_weights(pretrained)

    def _columns(self, x):
        """Return columns[j][i] = X(i, j) for every node."""
        encoder = []
        for i, block in enumerate(self.encoder):
            x = block(x if i == 0 else self.pool(x))
            encoder.append(x)
        columns = [encoder]
        for j, level in zip(range(1, 5), self.nested):
            column = []
            for i, block in enumerate(level):
                up = resize_to(columns[j - 1][i + 1], encoder[i], self.align_corners)
                column.append(block(paddle.concat([columns[k][i] for k in range(j)] + [up], axis=1)))
            columns.append(column)
        return columns

    def logits(self, x):
        columns = self._columns(x)
        tops = [columns[j][0] for j in range(4, 0, -1)]  # X(0,4), X(0,3), X(0,2), X(0,1)
        return [head(top) for head, top in zip(self.heads, tops)]
