"""The shell every model of the U-Net family shares (segmentation_models.pytorch's base model is the idea).

`SegmentationModel` checks the common constructor arguments and the input size, runs
encoder -> decoder -> head, and loads `pretrained` weights; an architecture only assembles its parts:

    class UNet(SegmentationModel):
        def __init__(self, num_classes, ..., pretrained=None):
            super().__init__(num_classes, in_channels, base_channels)
            self.encode, self.decode, self.cls = ..., ..., seg_head(widths[0], num_classes)
            self.init_weights(pretrained)

A model whose outputs are not `[cls(decode(*encode(x)))]` (UNet++) overrides `logits`.
"""
import paddle.nn as nn

from paddleseg_lite.models.checkpoint_io import load_pretrained_model
from paddleseg_lite.models.layers import check_input_size, check_model_args


def seg_head(in_channels, num_classes):
    """The 3x3 classifier of the U-Net family (PaddleSeg's `cls`)."""
    return nn.Conv2D(in_channels, num_classes, kernel_size=3, padding=1)


class SegmentationModel(nn.Layer):
    """Base of the U-Net family: `forward(x)` checks the input and returns `logits(x)`, a list of
    N x num_classes x H x W tensors.

    Args:
        num_classes (int), in_channels (int), base_channels (int): Checked (integers >= 1;
            base_channels >= `min_base`).
        min_base (int): The smallest base_channels the architecture can build.
    """
    min_input_size = 16  # four 2x2 poolings

    def __init__(self, num_classes, in_channels, base_channels, min_base=1):
        super().__init__()
        check_model_args(type(self).__name__, num_classes, in_channels, base_channels, min_base=min_base)

    def init_weights(self, pretrained):
        """Load `pretrained` (a file or URL) leniently when given; call after assembling the layers."""
        if pretrained:
            load_pretrained_model(self, pretrained)

    def logits(self, x):
        x, skips = self.encode(x)
        return [self.cls(self.decode(x, skips))]

    def forward(self, x):
        check_input_size(type(self).__name__, x, self.min_input_size)
        return self.logits(x)
