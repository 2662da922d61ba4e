"""ConvBNReLU names, PaddleSeg's initialisation, maybe_sync_batchnorm on CPU."""
import numpy as np
import paddle
import paddle.nn as nn

from paddleseg_lite.models.layers import ConvBNReLU, maybe_sync_batchnorm


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
