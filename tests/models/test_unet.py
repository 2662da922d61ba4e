"""UNet: PaddleSeg key names/order, parameter count, shapes at odd sizes, gradient flow."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddleseg_lite.cvlibs import manager
from paddleseg_lite.models import UNet
from model_refs import seeded_state

SIZES = [(32, 32), (37, 29), (48, 64)]


def _conv_bn_keys(prefix):
    return [prefix + s for s in ('_conv.weight', '_conv.bias', '_batch_norm.weight', '_batch_norm.bias',
                                 '_batch_norm._mean', '_batch_norm._variance')]


def paddleseg_unet_keys():
    """The 112 state_dict keys of PaddleSeg's UNet (use_deconv=False), in order."""
    keys = _conv_bn_keys('encode.double_conv.0.') + _conv_bn_keys('encode.double_conv.1.')
    for i in range(4):
        keys += _conv_bn_keys('encode.down_sample_list.%d.1.' % i) + _conv_bn_keys('encode.down_sample_list.%d.2.' % i)
    for i in range(4):
        for j in range(2):
            keys += _conv_bn_keys('decode.up_sample_list.%d.double_conv.%d.' % (i, j))
    return keys + ['cls.weight', 'cls.bias', 'conv.weight', 'conv.bias']


# (in, out) of the 18 ConvBNReLU layers, from the seed's shape table (base 64).
UNET_CONVS = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 512), (512, 512),
              (512, 512), (512, 512), (1024, 256), (256, 256), (512, 128), (128, 128), (256, 64), (64, 64),
              (128, 64), (64, 64)]


@pytest.fixture(scope='module')
def unet64():
    return UNet(num_classes=2)


def test_key_list_matches_paddleseg(unet64):
    keys = list(unet64.state_dict().keys())
    assert len(keys) == 112
    assert keys == paddleseg_unet_keys()


def test_shapes_and_parameter_count_match_table(unet64):
    state = unet64.state_dict()
    assert list(state['encode.double_conv.0._conv.weight'].shape) == [64, 3, 3, 3]
    assert list(state['encode.down_sample_list.3.2._conv.weight'].shape) == [512, 512, 3, 3]
    assert list(state['decode.up_sample_list.0.double_conv.0._conv.weight'].shape) == [256, 1024, 3, 3]
    assert list(state['cls.weight'].shape) == [2, 64, 3, 3]
    trainable = sum(9 * i * o + o + 2 * o for i, o in UNET_CONVS) + 9 * 64 * 2 + 2
    bn_statistics = sum(2 * o for _, o in UNET_CONVS)  # Paddle stores _mean/_variance as frozen parameters
    assert (trainable, bn_statistics) == (13396418, 7936)
    params = unet64.parameters()
    assert sum(int(p.numel()) for p in params if not p.stop_gradient) == trainable
    assert sum(int(p.numel()) for p in params) == trainable + bn_statistics


def test_conv_is_an_alias_of_cls(unet64):
    state = unet64.state_dict()
    assert unet64.conv is unet64.cls
    assert state['conv.weight'] is state['cls.weight']


def test_registered():
    assert manager.MODELS['UNet'] is UNet


@pytest.mark.parametrize('use_deconv', [False, True])
def test_output_shapes_at_odd_sizes(use_deconv):
    model = UNet(num_classes=3, base_channels=4, use_deconv=use_deconv)
    model.eval()
    for h, w in SIZES:
        logits = model(paddle.randn([2, 3, h, w]))
        assert isinstance(logits, list) and len(logits) == 1
        assert list(logits[0].shape) == [2, 3, h, w]


def test_deconv_keys():
    model = UNet(num_classes=2, base_channels=8, use_deconv=True)
    state = model.state_dict()
    assert len(state) == 120
    assert list(state['decode.up_sample_list.0.deconv.weight'].shape) == [64, 16, 2, 2]
    assert list(state['decode.up_sample_list.0.double_conv.0._conv.weight'].shape) == [32, 64 + 16, 3, 3]


def test_every_parameter_gets_a_gradient():
    paddle.seed(0)
    model = UNet(num_classes=2, base_channels=4, in_channels=1)
    model.train()
    logits = model(paddle.randn([2, 1, 37, 29]))[0]
    (logits ** 2).mean().backward()
    trainable = [p for p in model.parameters() if not p.stop_gradient]
    assert len(trainable) == 18 * 4 + 2
    for param in trainable:
        assert param.grad is not None, param.name
        assert np.isfinite(param.grad.numpy()).all()
    assert float(model.encode.double_conv[0]._conv.weight.grad.abs().sum()) > 0


@pytest.mark.parametrize('use_deconv', [False, True])
def test_align_corners_argument_reaches_the_upsampling(use_deconv):
    """Same weights and input, only the constructor's align_corners differs: the logits differ at 35x37."""
    x = paddle.to_tensor(np.random.RandomState(0).randn(1, 3, 35, 37).astype('float32'))
    outputs = []
    for align_corners in (False, True):
        model = UNet(num_classes=2, base_channels=4, use_deconv=use_deconv, align_corners=align_corners)
        model.set_state_dict(seeded_state(model, 1))
        model.eval()
        outputs.append(model(x)[0].numpy())
    assert np.abs(outputs[0] - outputs[1]).max() > 1e-3


def test_use_deconv_builds_paddleseg_transposed_convolutions():
    """Conv2DTranspose(in, out // 2, 2, stride 2) per up block: (32, 8), (16, 4), (8, 2), (4, 2) at base 4."""
    deconvs = [layer for layer in UNet(num_classes=2, base_channels=4, use_deconv=True).sublayers()
               if isinstance(layer, nn.Conv2DTranspose)]
    assert [list(d.weight.shape) for d in deconvs] == [[32, 8, 2, 2], [16, 4, 2, 2], [8, 2, 2, 2], [4, 2, 2, 2]]
    assert [list(d.bias.shape) for d in deconvs] == [[8], [4], [2], [2]]
    assert list(deconvs[0](paddle.zeros([1, 32, 3, 5])).shape) == [1, 8, 6, 10]  # kernel 2, stride 2
    bilinear = UNet(num_classes=2, base_channels=4).sublayers()
    assert not any(isinstance(layer, nn.Conv2DTranspose) for layer in bilinear)


def test_smallest_base_channels():
    """base_channels 1 works without deconv, 2 with it (the deconv halves the last width)."""
    for model in (UNet(num_classes=2, base_channels=1), UNet(num_classes=2, base_channels=2, use_deconv=True)):
        assert list(model(paddle.zeros([1, 3, 16, 16]))[0].shape) == [1, 2, 16, 16]


@pytest.mark.parametrize('kwargs, error', [
    ({'num_classes': 0}, ValueError), ({'num_classes': 2.5}, TypeError),
    ({'num_classes': 2, 'in_channels': 0}, ValueError),
    ({'num_classes': 2, 'base_channels': 1, 'use_deconv': True}, ValueError)])
def test_bad_arguments(kwargs, error):
    with pytest.raises(error, match='UNet'):
        UNet(**kwargs)


def test_too_small_input_is_a_clear_error():
    with pytest.raises(ValueError, match='at least 16x16'):
        UNet(num_classes=2, base_channels=4)(paddle.randn([1, 3, 8, 40]))


def test_seed_shape_table_at_128():
    """The seed's table: N*3*128*128 -> encoder skips 64@128, 128@64, 256@32, 512@16, bottom 512@8,
    decoder 256@16, 128@32, 64@64, 64@128, head num_classes@128."""
    model = UNet(num_classes=2)
    model.eval()
    x = paddle.rand([1, 3, 128, 128])
    with paddle.no_grad():
        bottom, skips = model.encode(x)
        assert [list(s.shape) for s in skips] == [[1, 64, 128, 128], [1, 128, 64, 64], [1, 256, 32, 32],
                                                  [1, 512, 16, 16]]
        assert list(bottom.shape) == [1, 512, 8, 8]
        shapes, y = [], bottom
        for up, skip in zip(model.decode.up_sample_list, reversed(skips)):
            y = up(y, skip)
            shapes.append(list(y.shape))
        assert shapes == [[1, 256, 16, 16], [1, 128, 32, 32], [1, 64, 64, 64], [1, 64, 128, 128]]
        assert list(model(x)[0].shape) == [1, 2, 128, 128]


@pytest.mark.parametrize("use_deconv", [False, True])
def test_odd_size_97x75(use_deconv):
    model = UNet(num_classes=2, base_channels=4, use_deconv=use_deconv)
    assert list(model(paddle.rand([2, 3, 75, 97]))[0].shape) == [2, 2, 75, 97]
