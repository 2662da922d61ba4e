"""Building blocks shared by the models in `paddleseg_lite.models`.

The sublayer names (`_conv`, `_batch_norm`, `_relu`) match PaddleSeg's
`ConvBNReLU`, so state_dict keys stay compatible with PaddleSeg checkpoints.

Initialisation: Paddle 3.3.1's default `Conv2D` init already is PaddleSeg's
(weights Normal(0, sqrt(2 / (k*k*in))), bias 0) and `BatchNorm2D` starts at
weight 1, bias 0, so no explicit initialiser is set (tests/models check it).
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddleseg_lite.utils.validate import check_int


class ConvBN(nn.Layer):
    """Conv2D (with bias) followed by BatchNorm2D.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Square kernel size.
        padding (int|str): Conv padding; 'same' keeps H x W for stride 1.
        **kwargs: Extra `paddle.nn.Conv2D` arguments (stride, dilation, ...).

    Shape:
        x: N x in_channels x H x W -> N x out_channels x H' x W'.
    """

    def __init__(self, in_channels, out_channels, kernel_size, padding='same', **kwargs):
        super().__init__()
        self._conv = nn.Conv2D(in_channels, out_channels, kernel_size, padding=padding, **kwargs)
        self._batch_norm = nn.BatchNorm2D(out_channels)

    def forward(self, x):
        return self._batch_norm(self._conv(x))


class ConvBNReLU(ConvBN):
    """Conv2D + BatchNorm2D + ReLU, PaddleSeg's `layers.ConvBNReLU`.

    Args: as `ConvBN`.

    Shape:
        x: N x in_channels x H x W -> N x out_channels x H' x W'.
    """

    def __init__(self, in_channels, out_channels, kernel_size, padding='same', **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, padding=padding, **kwargs)
        self._relu = nn.ReLU()

    def forward(self, x):
        return self._relu(super().forward(x))


def double_conv(in_channels, out_channels):
    """Two 3x3 ConvBNReLU layers in a Sequential (state_dict keys '0.*', '1.*')."""
    return nn.Sequential(ConvBNReLU(in_channels, out_channels, 3),
                         ConvBNReLU(out_channels, out_channels, 3))


def resize_to(x, ref, align_corners):
    """Bilinearly resize `x` to the spatial size of `ref` (a no-op when equal)."""
    if paddle.in_dynamic_mode() and list(x.shape[2:]) == list(ref.shape[2:]):
        return x  # static graphs (export) always resize: sizes are unknown there
    return F.interpolate(x, size=paddle.shape(ref)[2:], mode='bilinear', align_corners=align_corners)


def check_model_args(name, num_classes, in_channels, base_channels, min_base=1):
    """Raise a one-line ValueError/TypeError (`utils.validate.check_int`) for bad common model arguments."""
    for arg, value, low in (('num_classes', num_classes, 1), ('in_channels', in_channels, 1),
                            ('base_channels', base_channels, min_base)):
        check_int(name, arg, value, low)


def check_input_size(name, x, factor):
    """Raise ValueError when H or W of `x` is below `factor` (the total downsampling).

    Not checked in static graphs (export), where sizes are unknown.
    """
    if not paddle.in_dynamic_mode():
        return
    h, w = x.shape[2], x.shape[3]
    if min(h, w) < factor:
        raise ValueError("{}: input is {}x{} but must be at least {}x{} (the model downsamples "
                         "by {}); pad or resize the image.".format(name, h, w, factor, factor, factor))


def maybe_sync_batchnorm(model):
    """Convert BatchNorm layers to SyncBatchNorm only for multi-GPU training.

    Args:
        model (paddle.nn.Layer): The model to convert.

    Returns:
        paddle.nn.Layer: `model` converted with `SyncBatchNorm.convert_sync_batchnorm`
        when `paddle.distributed.get_world_size() > 1` and Paddle runs on a GPU;
        otherwise `model` itself, unchanged.
    """
    on_gpu = paddle.get_device().startswith('gpu')
    if on_gpu and paddle.distributed.get_world_size() > 1:
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model
