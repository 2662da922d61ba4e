"""ConvBNReLU names, PaddleSeg's initialisation, maybe_sync_batchnorm on CPU."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddleseg_lite.models import AttentionUNet, ResUNet, UNet, UNetPlusPlus
from paddleseg_lite.models.layers import ConvBN, ConvBNReLU, maybe_sync_batchnorm


def test_conv_bn_relu_sublayers_and_keys():
    layer = ConvBNReLU(3, 8, 3)
    assert isinstance(layer._conv, nn.Conv2D) and isinstance(layer._batch_norm, nn.BatchNorm2D)
    assert isinstance(layer._relu, nn.ReLU)
    assert list(layer.state_dict()) == ['_conv.weight', '_conv.bias', '_batch_norm.weight', '_batch_norm.bias',
                                        '_batch_norm._mean', '_batch_norm._variance']
    out = layer(paddle.randn([2, 3, 7, 5]))
    assert list(out.shape) == [2, 8, 7, 5] and float(out.min()) >= 0


def test_paddleseg_initialisation():
    paddle.seed(0)
    layer = ConvBNReLU(64, 64, 3)
    weight = layer._conv.weight.numpy()
    assert abs(weight.mean()) < 0.002
    np.testing.assert_allclose(weight.std(), np.sqrt(2.0 / (3 * 3 * 64)), rtol=0.02)
    assert (layer._conv.bias.numpy() == 0).all()
    assert (layer._batch_norm.weight.numpy() == 1).all() and (layer._batch_norm.bias.numpy() == 0).all()
    assert layer._batch_norm._momentum == 0.9 and layer._batch_norm._epsilon == 1e-5


def test_maybe_sync_batchnorm_keeps_plain_bn_on_one_cpu_process():
    model = nn.Sequential(ConvBNReLU(3, 4, 3))
    assert maybe_sync_batchnorm(model) is model
    assert isinstance(model[0]._batch_norm, nn.BatchNorm2D)
    assert not isinstance(model[0]._batch_norm, nn.SyncBatchNorm)


@pytest.mark.parametrize('device, world_size, converted', [('gpu:0', 2, True), ('gpu:0', 1, False),
                                                           ('cpu', 2, False), ('GPU', 2, False)])
def test_maybe_sync_batchnorm_converts_only_multi_gpu(monkeypatch, device, world_size, converted):
    monkeypatch.setattr(paddle, 'get_device', lambda: device)
    monkeypatch.setattr(paddle.distributed, 'get_world_size', lambda: world_size)
    model = nn.Sequential(ConvBNReLU(3, 4, 3))
    out = maybe_sync_batchnorm(model)
    assert isinstance(out[0]._batch_norm, nn.SyncBatchNorm) is converted  # converted in place


def test_conv_kwargs_and_padding_reach_the_conv():
    x = paddle.randn([1, 3, 9, 7])
    for layer in (ConvBNReLU(3, 4, 3, stride=2), ConvBN(3, 4, 3, stride=2)):
        assert list(layer(x).shape) == [1, 4, 5, 4]
    for layer in (ConvBNReLU(3, 4, 3, padding=0), ConvBN(3, 4, 3, padding=0)):
        assert list(layer(x).shape) == [1, 4, 7, 5]


@pytest.mark.parametrize('kwargs, error, message', [
    ({'num_classes': 2.5}, TypeError, 'UNet: num_classes must be an integer, got 2.5'),
    ({'num_classes': True}, TypeError, 'UNet: num_classes must be an integer, got True'),
    ({'num_classes': 2, 'in_channels': '3'}, TypeError, "UNet: in_channels must be an integer, got '3'"),
    ({'num_classes': 0}, ValueError, 'UNet: num_classes must be >= 1, got 0'),
    ({'num_classes': 2, 'in_channels': 0}, ValueError, 'UNet: in_channels must be >= 1, got 0'),
    ({'num_classes': 2, 'base_channels': 0}, ValueError, 'UNet: base_channels must be >= 1, got 0'),
    ({'num_classes': 2, 'base_channels': 1, 'use_deconv': True}, ValueError,
     'UNet: base_channels must be >= 2, got 1')])
def test_model_argument_errors_are_one_line(kwargs, error, message):
    with pytest.raises(error) as info:
        UNet(**kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize('cls', [UNet, AttentionUNet, ResUNet, UNetPlusPlus])
def test_input_size_check_at_the_boundary(cls):
    model = cls(num_classes=1, base_channels=1 if cls is not UNet else 2)
    model.eval()
    assert list(model(paddle.zeros([1, 3, 16, 16]))[0].shape) == [1, 1, 16, 16]
    with pytest.raises(ValueError) as info:
        model(paddle.zeros([1, 3, 40, 15]))
    assert str(info.value) == ('{}: input is 40x15 but must be at least 16x16 (the model downsamples by 16); '
                               'pad or resize the image.'.format(cls.__name__))
