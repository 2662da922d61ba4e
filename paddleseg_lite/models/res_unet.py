"""Residual U-Net: UNet's layout with each double conv replaced by a residual block.

Built from `model: {type: ResUNet, ...}`. Identity shortcuts ease optimisation
of the deep path; widths and upsampling are UNet's.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddleseg_lite.models.base import SegmentationModel, seg_head
from paddleseg_lite.models.layers import ConvBN, ConvBNReLU, resize_to
from paddleseg_lite.models.unet import Decoder, unet_widths
from paddleseg_lite.registry import MODELS


class ResidualBlock(nn.Layer):
    """relu(ConvBN(ConvBNReLU(x)) + shortcut(x)); the shortcut is a 1x1 ConvBN when widths differ.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.

    Shape:
        x: N x in_channels x H x W -> N x out_channels x H x W.
    """

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv1 = ConvBNReLU(in_channels, out_channels, 3)
        self.conv2 = ConvBN(out_channels, out_channels, 3)
        self.shortcut = ConvBN(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x):
        return F.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class ResUpSampling(nn.Layer):
    """Resize x to the skip's size, concat [x, skip], residual block."""

    def __init__(self, in_channels, out_channels, align_corners):
        super().__init__()
        self.align_corners = align_corners
        self.block = ResidualBlock(in_channels * 2, out_channels)

    def forward(self, x, skip):
        return self.block(paddle.concat([resize_to(x, skip, self.align_corners), skip], axis=1))


@MODELS.add_component
class ResUNet(SegmentationModel):
    """U-Net with residual blocks in the encoder and decoder.

    Args:
        num_classes (int): Output channels (1 for a sigmoid binary model).
        in_channels (int): Image channels. Default 3.
        base_channels (int): First-stage width; widths are b, 2b, 4b, 8b, 8b. Default 64.
        align_corners (bool): Bilinear `align_corners`. Default False.
        pretrained (str|None): Weights file or URL, loaded leniently. Default None.

    Returns:
        list[Tensor]: `[logits]`, N x num_classes x H x W.

    Shape:
        x: N x in_channels x H x W, H and W >= 16.
    """

    def __init__(self, num_classes, in_channels=3, base_channels=64, align_corners=False, pretrained=None):
        super().__init__(num_classes, in_channels, base_channels)
        widths = unet_widths(base_channels)
        self.stem = ResidualBlock(in_channels, widths[0])
        self.down_list = nn.LayerList([
            nn.Sequential(nn.MaxPool2D(kernel_size=2, stride=2), ResidualBlock(a, b))
            for a, b in zip(widths[:-1], widths[1:])])
        self.decode = Decoder(widths, lambda i, o: ResUpSampling(i, o, align_corners))
        self.cls = seg_head(widths[0], num_classes)
        self.init_weights(pretrained)

    def logits(self, x):
        x = self.stem(x)
        skips = []
        for down in self.down_list:
            skips.append(x)
            x = down(x)
        return [self.cls(self.decode(x, skips))]
