"""U-Net (Ronneberger et al. 2015) with PaddleSeg's layer names.

Built by `cvlibs.builder` from `model: {type: UNet, ...}`; `core` calls
`model(images)` and gets a one-element list of logits. Parameter names equal
PaddleSeg's UNet state_dict (`encode.double_conv.0._conv.weight`, ...,
`cls.weight`, and `conv.*` aliases of `cls.*`), so checkpoints load both ways.
"""
import paddle
import paddle.nn as nn

from paddleseg_lite.models.base import SegmentationModel, seg_head
from paddleseg_lite.models.layers import ConvBNReLU, double_conv, resize_to
from paddleseg_lite.registry import MODELS


def unet_widths(base_channels):
    """Encoder widths [b, 2b, 4b, 8b, 8b] (64-128-256-512-512 for b=64)."""
    b = base_channels
    return [b, 2 * b, 4 * b, 8 * b, 8 * b]


class Encoder(nn.Layer):
    """`double_conv`, then four (MaxPool 2x2 + double conv) blocks in `down_sample_list`.

    Args:
        in_channels (int): Image channels.
        widths (list[int]): Five widths, e.g. `unet_widths(64)`.

    Returns:
        (Tensor, list[Tensor]): the deepest feature map and the four skips
        (the inputs to each down block, finest first).
    """

    def __init__(self, in_channels, widths):
        super().__init__()
        self.double_conv = double_conv(in_channels, widths[0])
        self.down_sample_list = nn.LayerList([
            nn.Sequential(nn.MaxPool2D(kernel_size=2, stride=2),
                          ConvBNReLU(a, b, 3), ConvBNReLU(b, b, 3))
            for a, b in zip(widths[:-1], widths[1:])])

    def forward(self, x):
        x = self.double_conv(x)
        skips = []
        for down in self.down_sample_list:
            skips.append(x)
            x = down(x)
        return x, skips


class UpSampling(nn.Layer):
    """Upsample to the skip's size, concat [x, skip], double conv.

    Args:
        in_channels (int): Channels of `x` (equal to the skip's channels).
        out_channels (int): Output channels.
        align_corners (bool): For bilinear interpolation.
        use_deconv (bool): Upsample with Conv2DTranspose(in, out // 2, 2, stride 2)
            instead of bilinear interpolation (then resized to the skip if sizes are odd).
    """

    def __init__(self, in_channels, out_channels, align_corners, use_deconv=False):
        super().__init__()
        self.align_corners = align_corners
        self.use_deconv = use_deconv
        if use_deconv:
            self.deconv = nn.Conv2DTranspose(in_channels, out_channels // 2, kernel_size=2, stride=2)
            concat_channels = in_channels + out_channels // 2
        else:
            concat_channels = in_channels * 2
        self.double_conv = double_conv(concat_channels, out_channels)

    def forward(self, x, skip):
        if self.use_deconv:
            x = self.deconv(x)
        x = resize_to(x, skip, self.align_corners)
        return self.double_conv(paddle.concat([x, skip], axis=1))


class Decoder(nn.Layer):
    """Four up blocks in `up_sample_list`, coarsest skip first.

    Args:
        widths (list[int]): The encoder's five widths.
        up_block (callable): `up_block(in_channels, out_channels)` -> a layer
            called as `block(x, skip)`; (in, out) run (8b, 4b), (4b, 2b), (2b, b), (b, b).
    """

    def __init__(self, widths, up_block):
        super().__init__()
        ins = widths[3::-1]                      # 8b, 4b, 2b, b
        outs = widths[-3::-1] + [widths[0]]      # 4b, 2b, b, b
        self.up_sample_list = nn.LayerList([up_block(i, o) for i, o in zip(ins, outs)])

    def forward(self, x, skips):
        for up, skip in zip(self.up_sample_list, reversed(skips)):
            x = up(x, skip)
        return x


@MODELS.add_component
class UNet(SegmentationModel):
    """U-Net with BatchNorm and 'same' padding, PaddleSeg-compatible.

    Args:
        num_classes (int): Output channels (1 for a sigmoid binary model).
        align_corners (bool): Bilinear `align_corners`. Default False.
        use_deconv (bool): Upsample with transposed convolutions. Default False.
        in_channels (int): Image channels. Default 3.
        pretrained (str|None): Weights file or URL, loaded leniently
            (`load_pretrained_model`). Default None.
        base_channels (int): Width of the first stage; every width scales by
            base_channels / 64. Default 64 (PaddleSeg's UNet).

    Returns:
        list[Tensor]: `[logits]`, N x num_classes x H x W.

    Shape:
        x: N x in_channels x H x W, H and W >= 16 (any, not only multiples of 16).
    """

    def __init__(self, num_classes, align_corners=False, use_deconv=False, in_channels=3,
                 pretrained=None, base_channels=64):
        super().__init__(num_classes, in_channels, base_channels, min_base=2 if use_deconv else 1)
        widths = unet_widths(base_channels)
        self.encode = Encoder(in_channels, widths)
        self.decode = Decoder(widths, lambda i, o: UpSampling(i, o, align_corners, use_deconv))
        self.cls = self.conv = seg_head(widths[0], num_classes)
        self.init_weights(pretrained)
