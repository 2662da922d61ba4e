"""Attention U-Net (Oktay et al. 2018): U-Net whose skips pass through attention gates.

Built from `model: {type: AttentionUNet, ...}`. The encoder is UNet's (same
widths and key names); each decoder block gates its skip with additive
attention before the concat, so thin vessels far from the coarse context can
still be suppressed or kept per pixel.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddleseg_lite.models.base import SegmentationModel, seg_head
from paddleseg_lite.models.layers import ConvBN, double_conv, resize_to
from paddleseg_lite.models.unet import Decoder, Encoder, unet_widths
from paddleseg_lite.registry import MODELS


class AttentionGate(nn.Layer):
    """Additive attention gate: skip * sigmoid(psi(relu(W_g g + W_x skip))).

    The gating signal is computed at the skip's resolution (the decoder feature
    is upsampled first), a common simplification of the paper's strided W_x.

    Args:
        gate_channels (int): Channels of the gating (decoder) feature g.
        skip_channels (int): Channels of the skip feature.
        inter_channels (int): Channels of the joint 1x1 projection.

    Shape:
        g: N x gate_channels x H x W, skip: N x skip_channels x H x W -> like skip.
    """

    def __init__(self, gate_channels, skip_channels, inter_channels):
        super().__init__()
        self.gate_proj = ConvBN(gate_channels, inter_channels, 1)
        self.skip_proj = ConvBN(skip_channels, inter_channels, 1)
        self.psi = ConvBN(inter_channels, 1, 1)

    def forward(self, g, skip):
        attention = F.sigmoid(self.psi(F.relu(self.gate_proj(g) + self.skip_proj(skip))))
        return skip * attention


class AttentionUpSampling(nn.Layer):
    """Resize x to the skip's size, gate the skip with x, concat [x, gated skip], double conv."""

    def __init__(self, in_channels, out_channels, align_corners):
        super().__init__()
        self.align_corners = align_corners
        self.gate = AttentionGate(in_channels, in_channels, max(in_channels // 2, 1))
        self.double_conv = double_conv(in_channels * 2, out_channels)

    def forward(self, x, skip):
        x = resize_to(x, skip, self.align_corners)
        return self.double_conv(paddle.concat([x, self.gate(x, skip)], axis=1))


@MODELS.add_component
class AttentionUNet(SegmentationModel):
    """U-Net with attention-gated skip connections.

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
        self.encode = Encoder(in_channels, widths)
        self.decode = Decoder(widths, lambda i, o: AttentionUpSampling(i, o, align_corners))
        self.cls = seg_head(widths[0], num_classes)
        self.init_weights(pretrained)
