"""Losses against numpy references (loss_refs.py), ignore handling, purity and config errors."""
import numpy as np
import paddle
import pytest

import loss_refs as ref
from paddleseg_lite.cvlibs import manager
from paddleseg_lite.models.losses import (BCELoss, BorderWeightedCELoss, CrossEntropyLoss, DiceLoss, FocalLoss,
                                          LovaszSoftmaxLoss, MixedLoss, border_weight_map, clDiceLoss)
from paddleseg_lite.models.losses import utils as loss_utils
from paddleseg_lite.utils.errors import UserError

RNG = np.random.RandomState(0)
LOGITS3 = RNG.randn(2, 3, 4, 5).astype('float32')
LABEL3 = RNG.randint(0, 3, (2, 4, 5)).astype('int64')
LABEL3[0, 0, :3] = 255
LABEL3[1, 2, 2] = 255
LOGITS1 = RNG.randn(2, 1, 6, 7).astype('float32')
LABEL1 = RNG.randint(0, 2, (2, 6, 7)).astype('int64')
LABEL1[1, :2] = 255
ALL_LOSSES = [DiceLoss, CrossEntropyLoss, BCELoss, FocalLoss, LovaszSoftmaxLoss, BorderWeightedCELoss, clDiceLoss]


def t(array):
    return paddle.to_tensor(array)


def value(loss, logits, label):
    return float(loss(t(logits), t(label)))


def test_dice_seed_example_single_channel_sigmoid():
    x = np.array([[1.9072, 1.1079, 1.4906], [-0.6584, -0.0512, 0.7608], [-0.0614, 0.6583, 0.1095]], 'float32')
    y = np.array([[0, 1, 1], [1, 1, 1], [0, 0, 0]], 'int64')
    loss = value(DiceLoss(smooth=1.0), x.reshape(1, 1, 3, 3), y.reshape(1, 3, 3))
    assert loss == pytest.approx(0.38417, abs=1e-5)


@pytest.mark.parametrize('kwargs', [{}, {'weight': [0.2, 1.0, 3.0]}, {'smooth': 0.5}])
def test_dice_multiclass_matches_reference(kwargs):
    expected = ref.dice(LOGITS3, LABEL3, **kwargs)
    assert value(DiceLoss(**kwargs), LOGITS3, LABEL3) == pytest.approx(expected, rel=1e-5)


def test_dice_binary_with_ignore_matches_reference():
    assert value(DiceLoss(), LOGITS1, LABEL1) == pytest.approx(ref.dice(LOGITS1, LABEL1), rel=1e-5)


@pytest.mark.parametrize('kwargs', [
    {}, {'weight': [0.5, 2.0, 1.0]}, {'avg_non_ignore': False}, {'top_k_percent_pixels': 0.3},
    {'weight': [0.5, 2.0, 1.0], 'top_k_percent_pixels': 0.5}])
def test_cross_entropy_matches_reference(kwargs):
    expected = ref.cross_entropy(LOGITS3, LABEL3, weight=kwargs.get('weight'),
                                 avg_non_ignore=kwargs.get('avg_non_ignore', True),
                                 top_k=kwargs.get('top_k_percent_pixels', 1.0))
    assert value(CrossEntropyLoss(**kwargs), LOGITS3, LABEL3) == pytest.approx(expected, rel=1e-5)


def test_cross_entropy_nhwc_equals_nchw():
    nhwc = value(CrossEntropyLoss(data_format='NHWC'), LOGITS3.transpose(0, 2, 3, 1), LABEL3)
    assert nhwc == pytest.approx(value(CrossEntropyLoss(), LOGITS3, LABEL3), rel=1e-6)


def test_binary_losses_agree_with_two_class_cross_entropy():
    """A 1-channel logit z is sigmoid(z); BCE on [x0, x1] uses z = x1 - x0."""
    expected = ref.cross_entropy(LOGITS1, LABEL1)
    assert value(BCELoss(), LOGITS1, LABEL1) == pytest.approx(expected, rel=1e-5)
    assert value(CrossEntropyLoss(), LOGITS1, LABEL1) == pytest.approx(expected, rel=1e-5)
    two = np.concatenate([-LOGITS1, LOGITS1 * 0.5], axis=1)
    assert value(BCELoss(), two, LABEL1) == pytest.approx(ref.cross_entropy(two, LABEL1), rel=1e-5)


def test_bce_pos_weight():
    z, y = LOGITS1.astype(np.float64)[:, 0], LABEL1
    valid = y != 255
    per_pixel = -(3.0 * (y == 1) * np.log(ref.sigmoid(z)) + (y == 0) * np.log(1 - ref.sigmoid(z)))
    expected = (per_pixel * valid).mean() / valid.mean()
    assert value(BCELoss(pos_weight=3.0), LOGITS1, LABEL1) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize('alpha', [0.25, [0.5, 1.0, 2.0]])
def test_focal_matches_reference(alpha):
    nll = ref.pixel_nll(LOGITS3, LABEL3, 255)
    a = np.asarray(alpha)[np.where(LABEL3 == 255, 0, LABEL3)] if isinstance(alpha, list) else alpha
    focal = a * (1 - np.exp(-nll)) ** 2 * nll
    expected = focal.mean() / (LABEL3 != 255).mean()
    assert value(FocalLoss(alpha=alpha, gamma=2.0), LOGITS3, LABEL3) == pytest.approx(expected, rel=1e-5)


def test_lovasz_matches_reference():
    assert value(LovaszSoftmaxLoss(), LOGITS3, LABEL3) == pytest.approx(ref.lovasz_softmax(LOGITS3, LABEL3), rel=1e-5)
    assert value(LovaszSoftmaxLoss(), LOGITS1, LABEL1) == pytest.approx(ref.lovasz_softmax(LOGITS1, LABEL1), rel=1e-5)


def test_lovasz_on_hard_predictions_is_mean_jaccard_loss():
    pred = np.array([[[0, 0, 1], [1, 2, 2]]])
    label = np.array([[[0, 1, 1], [1, 2, 0]]])
    logits = (np.eye(3)[pred].transpose(0, 3, 1, 2) * 40.0).astype('float32')
    ious = [np.sum((pred == c) & (label == c)) / np.sum((pred == c) | (label == c)) for c in range(3)]
    assert value(LovaszSoftmaxLoss(), logits, label) == pytest.approx(1 - np.mean(ious), abs=1e-5)


def test_cldice_matches_reference():
    label = np.zeros((2, 12, 12), 'int64')
    label[:, 5:8, 1:11] = 1
    label[1, 1:11, 3] = 1
    label[0, 0, :] = 255
    logits = RNG.randn(2, 2, 12, 12).astype('float32') + np.stack([-label, label], 1) * 2
    logits1 = logits[:, 1:] - logits[:, :1]
    assert value(clDiceLoss(), logits, label) == pytest.approx(ref.cldice(logits, label), rel=1e-5)
    assert value(clDiceLoss(iters=2), logits1, label) == pytest.approx(ref.cldice(logits1, label, iters=2), rel=1e-5)


def test_soft_skeleton_of_a_bar_is_its_centre_line():
    from paddleseg_lite.models.losses import soft_skeleton
    bar = np.zeros((1, 1, 7, 9), 'float32')
    bar[0, 0, 2:5, 1:8] = 1
    expected = np.zeros_like(bar)
    expected[0, 0, 3, 2:7] = 1
    np.testing.assert_allclose(soft_skeleton(t(bar), 3).numpy(), expected)


def test_border_weighted_ce_matches_weighted_reference():
    label = np.zeros((1, 5, 9), 'int64')
    label[0, :, 1] = 1
    label[0, :, 6:8] = 1
    label[0, 4, 4] = 255
    logits = RNG.randn(1, 2, 5, 9).astype('float32')
    weights = border_weight_map(label[0], w0=10, sigma=5)
    expected = (weights * ref.pixel_nll(logits, label, 255)).mean() / (label != 255).mean()
    assert value(BorderWeightedCELoss(w0=10, sigma=5), logits, label) == pytest.approx(expected, rel=1e-5)


def test_mixed_loss_returns_scaled_list():
    out = MixedLoss(losses=[CrossEntropyLoss(), DiceLoss()], coef=[0.8, 0.2])(t(LOGITS3), t(LABEL3))
    assert isinstance(out, list) and len(out) == 2
    assert float(out[0]) == pytest.approx(0.8 * ref.cross_entropy(LOGITS3, LABEL3), rel=1e-5)
    assert float(out[1]) == pytest.approx(0.2 * ref.dice(LOGITS3, LABEL3), rel=1e-5)


def test_mixed_loss_ignore_index_reaches_sub_losses():
    mixed = MixedLoss(losses=[CrossEntropyLoss(), DiceLoss()], coef=[1, 1], ignore_index=0)
    assert [loss.ignore_index for loss in mixed.losses] == [0, 0]


@pytest.mark.parametrize('loss_cls', ALL_LOSSES)
def test_inputs_unchanged_and_gradient_finite(loss_cls):
    logits_np, label_np = (LOGITS1, LABEL1) if loss_cls is BCELoss else (LOGITS3, LABEL3)
    logits, label = t(logits_np), t(label_np)
    logits.stop_gradient = False
    loss = loss_cls()(logits, label)
    loss.backward()
    np.testing.assert_array_equal(logits.numpy(), logits_np)
    np.testing.assert_array_equal(label.numpy(), label_np)
    grad = logits.grad.numpy()
    assert np.isfinite(grad).all() and np.abs(grad).sum() > 0


def test_dice_does_not_corrupt_the_next_loss():
    label = t(LABEL3)
    mixed = MixedLoss(losses=[DiceLoss(), CrossEntropyLoss()], coef=[1, 1])(t(LOGITS3), label)
    assert float(mixed[1]) == pytest.approx(ref.cross_entropy(LOGITS3, LABEL3), rel=1e-5)


@pytest.mark.parametrize('loss_cls', ALL_LOSSES)
@pytest.mark.parametrize('fill', [255, 0])
def test_all_ignored_or_empty_foreground_gives_finite_loss(loss_cls, fill):
    logits = t(RNG.randn(2, 2, 8, 8).astype('float32'))
    logits.stop_gradient = False
    loss = loss_cls()(logits, t(np.full((2, 8, 8), fill, 'int64')))
    loss.backward()
    assert np.isfinite(float(loss)) and np.isfinite(logits.grad.numpy()).all()
    if fill == 255:
        assert float(loss) == pytest.approx(0.0, abs=1e-6)


def test_weight_length_mismatch_names_the_loss():
    for loss in (DiceLoss(weight=[1, 2]), CrossEntropyLoss(weight=[1, 2]), FocalLoss(alpha=[1, 2])):
        with pytest.raises(ValueError, match=type(loss).__name__ + ': weight has 2 entries'):
            loss(t(LOGITS3), t(LABEL3))


def test_label_values_out_of_range_are_a_clear_error():
    label = np.where(LABEL1 == 1, 255, LABEL1)
    with pytest.raises(UserError, match=r'CrossEntropyLoss: label values \[255\] .*look like 0/255 masks'):
        CrossEntropyLoss(ignore_index=-1)(t(LOGITS1), t(label))
    with pytest.raises(ValueError, match='label shape'):
        DiceLoss()(t(LOGITS3), t(LABEL1))


def test_ignore_index_inside_class_range_warns_once(monkeypatch):
    messages = []
    monkeypatch.setattr(loss_utils.logger, 'warning', messages.append)
    loss, label = CrossEntropyLoss(ignore_index=1), t(np.where(LABEL3 == 255, 1, LABEL3))
    loss(t(LOGITS3), label)
    loss(t(LOGITS3), label)
    assert len(messages) == 1 and 'ignore_index 1' in messages[0]


@pytest.mark.parametrize('build, error', [
    (lambda: CrossEntropyLoss(top_k_percent_pixels=0), ValueError),
    (lambda: CrossEntropyLoss(data_format='NWHC'), ValueError),
    (lambda: DiceLoss(weight='1,2'), TypeError),
    (lambda: DiceLoss(weight=[1, -1]), ValueError),
    (lambda: MixedLoss(losses=[DiceLoss()], coef=[1, 2]), ValueError),
    (lambda: MixedLoss(losses=(DiceLoss(),), coef=[1]), TypeError),
    (lambda: BorderWeightedCELoss(sigma=0), ValueError),
    (lambda: clDiceLoss(iters=-1), ValueError),
    (lambda: FocalLoss(gamma='2'), TypeError)])
def test_constructor_errors(build, error):
    with pytest.raises(error):
        build()


def test_bce_rejects_multiclass_logits():
    with pytest.raises(ValueError, match='BCELoss'):
        BCELoss()(t(LOGITS3), t(LABEL3))


def test_every_loss_is_registered():
    for cls in ALL_LOSSES + [MixedLoss]:
        assert manager.LOSSES[cls.__name__] is cls
