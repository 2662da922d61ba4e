"""The U-Net family: shapes at odd sizes, gradient flow, deep supervision, constructor arguments."""
import os

import numpy as np
import paddle
import pytest

from paddleseg_lite.cvlibs import manager
from paddleseg_lite.models import AttentionUNet, ResUNet, UNet, UNetPlusPlus
from model_refs import seeded_state

SIZES = [(32, 32), (37, 29), (48, 64)]
FAMILY = [(AttentionUNet, {}), (ResUNet, {}), (UNetPlusPlus, {}), (UNetPlusPlus, {'deep_supervision': True})]
ALL_MODELS = [UNet, AttentionUNet, ResUNet, UNetPlusPlus]


def _seeded(cls, seed=1, **kwargs):
    model = cls(**kwargs)
    model.set_state_dict(seeded_state(model, seed))
    model.eval()
    return model


def _odd_input(in_channels=3):
    return paddle.to_tensor(np.random.RandomState(0).randn(1, in_channels, 35, 37).astype('float32'))


@pytest.mark.parametrize('cls, kwargs', FAMILY)
def test_output_shapes_and_gradients(cls, kwargs):
    paddle.seed(0)
    model = cls(num_classes=2, in_channels=3, base_channels=4, **kwargs)
    assert manager.MODELS[cls.__name__] is cls
    heads = 4 if kwargs.get('deep_supervision') else 1
    model.eval()
    for h, w in SIZES[:2]:
        logits = model(paddle.randn([1, 3, h, w]))
        assert isinstance(logits, list) and len(logits) == heads
        assert all(list(lg.shape) == [1, 2, h, w] for lg in logits)
    model.train()
    h, w = SIZES[2]
    logits = model(paddle.randn([2, 3, h, w]))
    assert all(list(lg.shape) == [2, 2, h, w] for lg in logits)
    sum((lg ** 2).mean() for lg in logits).backward()
    trainable = [p for p in model.parameters() if not p.stop_gradient]
    missing = [p.name for p in trainable if p.grad is None]
    assert not missing
    assert all(np.isfinite(p.grad.numpy()).all() for p in trainable)


def test_unetplusplus_deep_supervision_first_logit_is_the_full_depth_head(tmp_path):
    """logits[0] of the deep-supervision model is what the plain model computes with the same weights."""
    deep = _seeded(UNetPlusPlus, num_classes=2, base_channels=4, deep_supervision=True)
    path = str(tmp_path / 'deep.pdparams')
    paddle.save(deep.state_dict(), path)
    plain = UNetPlusPlus(num_classes=2, base_channels=4, pretrained=path)
    plain.eval()
    x = _odd_input()
    logits = deep(x)
    assert len(logits) == 4 and len(plain.state_dict()) == len(deep.state_dict()) - 6  # 3 more 1x1 heads
    np.testing.assert_array_equal(plain(x)[0].numpy(), logits[0].numpy())
    assert all(not np.allclose(logits[0].numpy(), lg.numpy(), atol=1e-3) for lg in logits[1:])


def test_attention_gate_scales_the_skip():
    model = AttentionUNet(num_classes=2, base_channels=4)
    gate = model.decode.up_sample_list[0].gate
    gate.eval()
    skip = paddle.randn([1, 32, 5, 5])
    gated = gate(paddle.randn([1, 32, 5, 5]), skip).numpy()
    ratio = gated / skip.numpy()
    assert ((ratio > 0) & (ratio < 1)).all()  # a sigmoid attention coefficient per pixel
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:, :1], ratio.shape), rtol=1e-4)  # shared over channels


@pytest.mark.parametrize('cls', [AttentionUNet, ResUNet, UNetPlusPlus])
def test_bad_arguments_name_the_model(cls):
    with pytest.raises(ValueError) as info:
        cls(num_classes=0)
    assert str(info.value) == '{}: num_classes must be >= 1, got 0'.format(cls.__name__)
    with pytest.raises(TypeError) as info:
        cls(num_classes=2, base_channels='8')
    assert str(info.value) == "{}: base_channels must be an integer, got '8'".format(cls.__name__)


@pytest.mark.parametrize('base_channels, inter', [(4, [16, 8, 4, 2]), (1, [4, 2, 1, 1])])
def test_attention_gate_projects_to_half_the_channels_at_least_one(base_channels, inter):
    model = AttentionUNet(num_classes=1, base_channels=base_channels)
    state = model.state_dict()
    shapes = [list(state['decode.up_sample_list.%d.gate.gate_proj._conv.weight' % i].shape) for i in range(4)]
    ins = [8 * base_channels, 4 * base_channels, 2 * base_channels, base_channels]
    assert shapes == [[i, c, 1, 1] for i, c in zip(inter, ins)]


@pytest.mark.skipif('MUTANT_UNDER_TEST' in os.environ,
                    reason="mutmut's trampoline hides forward's signature from paddle.jit.to_static")
@pytest.mark.parametrize('cls, kwargs', [(UNet, {'use_deconv': True}), (UNetPlusPlus, {'deep_supervision': True})])
def test_static_export_with_dynamic_sizes_matches_dygraph(cls, kwargs, tmp_path):
    model = cls(num_classes=2, base_channels=4, **kwargs)
    model.eval()
    x = paddle.randn([1, 3, 37, 29])
    expected = model(x)[0].numpy()
    spec = [paddle.static.InputSpec([None, 3, None, None], 'float32')]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), str(tmp_path / 'model'))
    out = paddle.jit.load(str(tmp_path / 'model'))(x)
    out = out[0] if isinstance(out, (list, tuple)) else out
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('cls', ALL_MODELS)
@pytest.mark.parametrize('in_channels, base_channels, num_classes', [(1, 4, 1), (5, 6, 3)])
def test_constructor_sets_first_conv_and_head(cls, in_channels, base_channels, num_classes):
    """in_channels and base_channels shape the first conv, num_classes the head (and the logits)."""
    model = cls(num_classes=num_classes, in_channels=in_channels, base_channels=base_channels)
    weights = [p for p in model.parameters() if len(p.shape) == 4]
    assert list(weights[0].shape) == [base_channels, in_channels, 3, 3]
    assert list(weights[-1].shape)[:2] == [num_classes, base_channels]
    model.eval()
    logits = model(paddle.zeros([1, in_channels, 16, 24]))
    assert [list(lg.shape) for lg in logits] == [[1, num_classes, 16, 24]]


@pytest.mark.parametrize('cls', [AttentionUNet, ResUNet, UNetPlusPlus])
def test_widths_double_per_depth(cls):
    """base_channels b sets every depth: 3x3 convs are b, 2b, 4b, 8b wide (UNet++: b .. 16b)."""
    model = cls(num_classes=2, base_channels=4)
    widths = sorted({p.shape[0] for p in model.parameters() if len(p.shape) == 4 and p.shape[2] == 3})
    assert widths == ([4, 8, 16, 32, 64] if cls is UNetPlusPlus else [2, 4, 8, 16, 32])  # 2: the 3x3 head


@pytest.mark.parametrize('cls', [AttentionUNet, ResUNet, UNetPlusPlus])
def test_align_corners_argument_reaches_the_upsampling(cls):
    """Same weights and input, only the constructor's align_corners differs: the logits differ at 35x37."""
    x = _odd_input()
    plain, aligned = (_seeded(cls, num_classes=2, base_channels=4, align_corners=ac)(x)[0].numpy()
                      for ac in (False, True))
    assert np.abs(plain - aligned).max() > 1e-3


@pytest.mark.parametrize('cls', ALL_MODELS)
def test_pretrained_argument_loads_the_weights(cls, tmp_path):
    """`pretrained=path` gives the saved model's logits; without it the logits differ."""
    source = _seeded(cls, num_classes=2, base_channels=4)
    path = str(tmp_path / 'model.pdparams')
    paddle.save(source.state_dict(), path)
    x = _odd_input()
    expected = source(x)[0].numpy()
    loaded, fresh = cls(num_classes=2, base_channels=4, pretrained=path), cls(num_classes=2, base_channels=4)
    loaded.eval()
    fresh.eval()
    np.testing.assert_array_equal(loaded(x)[0].numpy(), expected)
    assert not np.allclose(fresh(x)[0].numpy(), expected)


@pytest.mark.parametrize('cls, base', [(UNet, 64), (AttentionUNet, 64), (ResUNet, 64), (UNetPlusPlus, 32)])
def test_documented_defaults(cls, base):
    """Defaults: in_channels 3, base_channels 64 (UNet++: 32), align_corners False, no deconv, no weights."""
    model = cls(num_classes=2)
    weights = [p for p in model.parameters() if len(p.shape) == 4]
    assert list(weights[0].shape) == [base, 3, 3, 3]
    assert not any(isinstance(layer, paddle.nn.Conv2DTranspose) for layer in model.sublayers())
    x = _odd_input()
    default = _seeded(cls, num_classes=2, base_channels=4)(x)[0].numpy()
    explicit = _seeded(cls, num_classes=2, base_channels=4, align_corners=False, in_channels=3)(x)[0].numpy()
    np.testing.assert_array_equal(default, explicit)
