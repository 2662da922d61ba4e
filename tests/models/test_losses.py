"""Losses against numpy references (loss_refs.py), ignore handling, purity and config errors."""
import re

import numpy as np
import paddle
import pytest

import loss_refs as ref
from paddleseg_lite.cvlibs import manager
from paddleseg_lite.models.losses import (BCELoss, BorderWeightedCELoss, CrossEntropyLoss, DiceLoss, FocalLoss,
                                          LovaszSoftmaxLoss, MixedLoss, clDiceLoss)
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


@pytest.mark.parametrize('pos_weight', [3.0, 0])
def test_bce_pos_weight(pos_weight):
    expected = ref.bce(LOGITS1, LABEL1, pos_weight=pos_weight)
    assert value(BCELoss(pos_weight=pos_weight), LOGITS1, LABEL1) == pytest.approx(expected, rel=1e-5)
    two = np.concatenate([LOGITS1 * 0.3, LOGITS1], axis=1)
    expected = ref.bce(two, LABEL1, pos_weight=pos_weight)
    assert value(BCELoss(pos_weight=pos_weight), two, LABEL1) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize('alpha, gamma', [(0.25, 2.0), ([0.5, 1.0, 2.0], 2.0), (0.25, 0), (1.5, 0.5), (0, 2.0)])
def test_focal_matches_reference(alpha, gamma):
    expected = ref.focal(LOGITS3, LABEL3, alpha=alpha, gamma=gamma)
    assert value(FocalLoss(alpha=alpha, gamma=gamma), LOGITS3, LABEL3) == pytest.approx(expected, rel=1e-5, abs=1e-9)


def test_focal_defaults_are_alpha_quarter_gamma_two():
    expected = ref.focal(LOGITS3, LABEL3, alpha=0.25, gamma=2.0)
    assert value(FocalLoss(), LOGITS3, LABEL3) == pytest.approx(expected, rel=1e-5)


def test_focal_one_channel_with_class_alpha():
    expected = ref.focal(LOGITS1, LABEL1, alpha=[0.3, 2.0], gamma=1.0)
    assert value(FocalLoss(alpha=[0.3, 2.0], gamma=1.0), LOGITS1, LABEL1) == pytest.approx(expected, rel=1e-5)


def test_focal_gamma_zero_is_alpha_times_cross_entropy():
    assert value(FocalLoss(alpha=0.5, gamma=0), LOGITS3, LABEL3) == pytest.approx(
        0.5 * ref.cross_entropy(LOGITS3, LABEL3), rel=1e-5)


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
    weights = ref.border_weights(label[0], w0=10, sigma=5)
    expected = (weights * ref.pixel_nll(logits, label, 255)).mean() / (label != 255).mean()
    assert value(BorderWeightedCELoss(), logits, label) == pytest.approx(expected, rel=1e-5)  # w0 10, sigma 5


def test_mixed_loss_returns_scaled_list():
    out = MixedLoss(losses=[CrossEntropyLoss(), DiceLoss()], coef=[0.8, 0.2])(t(LOGITS3), t(LABEL3))
    assert isinstance(out, list) and len(out) == 2
    assert float(out[0]) == pytest.approx(0.8 * ref.cross_entropy(LOGITS3, LABEL3), rel=1e-5)
    assert float(out[1]) == pytest.approx(0.2 * ref.dice(LOGITS3, LABEL3), rel=1e-5)


def test_mixed_loss_ignore_index_reaches_sub_losses():
    mixed = MixedLoss(losses=[CrossEntropyLoss(), DiceLoss()], coef=[1, 1], ignore_index=0)
    assert [loss.ignore_index for loss in mixed.losses] == [0, 0]


@pytest.mark.parametrize('loss_cls, binary', [(cls, True) for cls in ALL_LOSSES] +
                         [(cls, False) for cls in ALL_LOSSES if cls is not BCELoss])
def test_inputs_unchanged_scalar_float32_and_gradient_finite(loss_cls, binary):
    logits_np, label_np = (LOGITS1, LABEL1) if binary else (LOGITS3, LABEL3)
    logits, label = t(logits_np), t(label_np)
    logits.stop_gradient = False
    loss = loss_cls()(logits, label)
    assert loss.shape == [] and loss.dtype == paddle.float32
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


@pytest.mark.parametrize('build, error, message', [
    (lambda: BCELoss(pos_weight=-1), ValueError, "BCELoss: pos_weight must be >= 0, got -1"),
    (lambda: BCELoss(pos_weight='2'), TypeError, "BCELoss: pos_weight must be a number, got '2'"),
    (lambda: DiceLoss(smooth=-1), ValueError, "DiceLoss: smooth must be >= 0, got -1"),
    (lambda: DiceLoss(weight=[1, -1]), ValueError,
     "DiceLoss: weight must be a list of class weights >= 0, got [1, -1]"),
    (lambda: DiceLoss(weight='1,2'), TypeError,
     "DiceLoss: weight must be a list with one number per class, got '1,2'"),
    (lambda: CrossEntropyLoss(weight=[True]), TypeError,
     "CrossEntropyLoss: weight must be a non-empty list of numbers, got [True]"),
    (lambda: CrossEntropyLoss(top_k_percent_pixels=0), ValueError,
     "CrossEntropyLoss: top_k_percent_pixels must be in (0, 1], got 0"),
    (lambda: CrossEntropyLoss(top_k_percent_pixels=1.5), ValueError,
     "CrossEntropyLoss: top_k_percent_pixels must be in (0, 1], got 1.5"),
    (lambda: CrossEntropyLoss(data_format='NWHC'), ValueError,
     "CrossEntropyLoss: data_format must be one of NCHW, NHWC, got 'NWHC'"),
    (lambda: FocalLoss(alpha=-0.1), ValueError, "FocalLoss: alpha must be >= 0, got -0.1"),
    (lambda: FocalLoss(alpha=[1, -1]), ValueError,
     "FocalLoss: alpha must be a list of class weights >= 0, got [1, -1]"),
    (lambda: FocalLoss(gamma=-1), ValueError, "FocalLoss: gamma must be >= 0, got -1"),
    (lambda: FocalLoss(gamma='2'), TypeError, "FocalLoss: gamma must be a number, got '2'"),
    (lambda: BorderWeightedCELoss(w0=-1), ValueError, "BorderWeightedCELoss: w0 must be >= 0, got -1"),
    (lambda: BorderWeightedCELoss(sigma=0), ValueError, "BorderWeightedCELoss: sigma must be > 0, got 0"),
    (lambda: BorderWeightedCELoss(max_components=1), ValueError,
     "BorderWeightedCELoss: max_components must be >= 2, got 1"),
    (lambda: BorderWeightedCELoss(max_components=2.0), TypeError,
     "BorderWeightedCELoss: max_components must be an integer, got 2.0"),
    (lambda: clDiceLoss(iters=-1), ValueError, "clDiceLoss: iters must be >= 0, got -1"),
    (lambda: clDiceLoss(iters=1.5), TypeError, "clDiceLoss: iters must be an integer, got 1.5"),
    (lambda: clDiceLoss(smooth=-1), ValueError, "clDiceLoss: smooth must be >= 0, got -1"),
    (lambda: MixedLoss(losses=(DiceLoss(),), coef=[1]), TypeError,
     "MixedLoss: losses and coef must both be lists, got tuple and list."),
    (lambda: MixedLoss(losses=[DiceLoss()], coef=(1,)), TypeError,
     "MixedLoss: losses and coef must both be lists, got list and tuple."),
    (lambda: MixedLoss(losses=[DiceLoss()], coef=[1, 2]), ValueError,
     "MixedLoss: losses has 1 entries but coef has 2; give one coef per loss."),
    (lambda: MixedLoss(losses=[], coef=[]), ValueError, "MixedLoss: losses is empty; list at least one loss."),
    (lambda: MixedLoss(losses=[{'type': 'DiceLoss'}], coef=[1]), TypeError,
     "MixedLoss: every entry of losses must be a loss (a dict with `type:` in YAML)."),
    (lambda: MixedLoss(losses=[DiceLoss()], coef=[True]), TypeError,
     "MixedLoss: coef[0] must be a number, got True"),
    (lambda: MixedLoss(losses=[DiceLoss()], coef=['0.5']), TypeError,
     "MixedLoss: coef[0] must be a number, got '0.5'"),
    (lambda: MixedLoss(losses=[DiceLoss(), DiceLoss()], coef=[1, -0.5]), ValueError,
     "MixedLoss: coef[1] must be >= 0, got -0.5")])
def test_constructor_errors_name_the_loss_and_argument(build, error, message):
    with pytest.raises(error, match='^' + re.escape(message) + '$'):
        build()


def test_bce_rejects_multiclass_logits():
    message = ("BCELoss: logits have 3 channels but BCELoss takes 1 or 2 (binary); use CrossEntropyLoss or DiceLoss "
               "for multi-class models.")
    with pytest.raises(ValueError, match='^' + re.escape(message) + '$'):
        BCELoss()(t(LOGITS3), t(LABEL3))


def test_every_loss_is_registered():
    for cls in ALL_LOSSES + [MixedLoss]:
        assert manager.LOSSES[cls.__name__] is cls


def test_dice_counts_a_class_absent_from_the_batch():
    """Class 2 never appears: its per-sample term is 1 - smooth / (sum p_2 + smooth), still averaged over C = 3."""
    label = np.where(LABEL3 == 2, 0, LABEL3)
    assert value(DiceLoss(), LOGITS3, label) == pytest.approx(ref.dice(LOGITS3, label), rel=1e-5)


def test_dice_hand_computed_two_pixels():
    # p = softmax([0, ln 3]) = [0.25, 0.75] at both pixels; labels 1 and 0; smooth 0:
    # d_0 = 1 - 2 * 0.25 / (0.5 + 1) = 2/3, d_1 = 1 - 2 * 0.75 / (1.5 + 1) = 0.4; loss = (2/3 + 0.4) / 2.
    logits = np.array([[[[0.0, 0.0]], [[np.log(3), np.log(3)]]]], 'float32')
    assert value(DiceLoss(smooth=0), logits, np.array([[[1, 0]]])) == pytest.approx((2 / 3 + 0.4) / 2, rel=1e-5)


def test_cross_entropy_top_k_of_one_pixel_is_the_hardest_pixel():
    nll = ref.pixel_nll(LOGITS3, LABEL3, 255)
    w = np.array([0.5, 2.0, 1.0])[np.where(LABEL3 == 255, 0, LABEL3)]
    hardest = (nll * w).max()
    loss = CrossEntropyLoss(weight=[0.5, 2.0, 1.0], top_k_percent_pixels=0.01)
    assert value(loss, LOGITS3, LABEL3) == pytest.approx(hardest / w.ravel()[np.argmax(nll * w)], rel=1e-5)
    assert value(CrossEntropyLoss(top_k_percent_pixels=0.01), LOGITS3, LABEL3) == pytest.approx(nll.max(), rel=1e-5)


def test_cross_entropy_hand_computed_with_weights_and_ignore():
    # Pixels: label 0 with p0 = 1/2 (w 1), label 1 with p1 = 1/4 (w 3), one ignored pixel.
    # avg_non_ignore: (ln 2 + 3 ln 4) / (1 + 3); otherwise: (ln 2 + 3 ln 4) / 3 pixels.
    logits = np.array([[[[0.0, 0.0, 5.0]], [[0.0, -np.log(3), 1.0]]]], 'float32')
    label = np.array([[[0, 1, 255]]])
    total = np.log(2) + 3 * np.log(4)
    assert value(CrossEntropyLoss(weight=[1, 3]), logits, label) == pytest.approx(total / 4, rel=1e-5)
    assert value(CrossEntropyLoss(weight=[1, 3], avg_non_ignore=False), logits, label) == pytest.approx(
        total / 3, rel=1e-5)


def test_cross_entropy_one_channel_with_class_weights():
    expected = ref.cross_entropy(LOGITS1, LABEL1, weight=[0.4, 2.5])
    assert value(CrossEntropyLoss(weight=[0.4, 2.5]), LOGITS1, LABEL1) == pytest.approx(expected, rel=1e-5)


def test_lovasz_with_a_missing_class_and_a_one_pixel_class():
    label = np.where(LABEL3 == 1, 2, LABEL3)
    label[1, 3, 4] = 1
    assert value(LovaszSoftmaxLoss(), LOGITS3, label) == pytest.approx(ref.lovasz_softmax(LOGITS3, label), rel=1e-5)
    label[1, 3, 4] = 0
    assert value(LovaszSoftmaxLoss(), LOGITS3, label) == pytest.approx(ref.lovasz_softmax(LOGITS3, label), rel=1e-5)


@pytest.mark.parametrize('kwargs', [{'iters': 0}, {'smooth': 0}, {'iters': 1, 'smooth': 0.5}])
def test_cldice_parameters_reach_the_loss(kwargs):
    label = np.zeros((1, 10, 10), 'int64')
    label[0, 4:7, 1:9] = 1
    logits = RNG.randn(1, 2, 10, 10).astype('float32') + np.stack([-label, label], 1) * 2
    assert value(clDiceLoss(**kwargs), logits, label) == pytest.approx(ref.cldice(logits, label, **kwargs), rel=1e-5)


def test_mixed_loss_ignore_index_changes_the_values():
    label = np.where(LABEL3 == 255, 2, LABEL3)
    mixed = MixedLoss(losses=[CrossEntropyLoss(), DiceLoss()], coef=[1, 0.5], ignore_index=2)
    ce, dice = mixed(t(LOGITS3), t(label))
    assert mixed.ignore_index == 2
    assert float(ce) == pytest.approx(ref.cross_entropy(LOGITS3, label, ignore=2), rel=1e-5)
    assert float(dice) == pytest.approx(0.5 * ref.dice(LOGITS3, label, ignore=2), rel=1e-5)
    kept = MixedLoss(losses=[CrossEntropyLoss(ignore_index=1)], coef=[1])
    assert kept.ignore_index is None and kept.losses[0].ignore_index == 1


def numeric_grad(f, x, eps=1e-4):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


WEIGHTS3 = [0.5, 2.0, 1.0]


@pytest.mark.parametrize('loss, reference, binary', [
    (DiceLoss(weight=WEIGHTS3), lambda x: ref.dice(x, LABEL3, weight=WEIGHTS3), False),
    (CrossEntropyLoss(weight=WEIGHTS3), lambda x: ref.cross_entropy(x, LABEL3, weight=WEIGHTS3), False),
    (CrossEntropyLoss(top_k_percent_pixels=0.4), lambda x: ref.cross_entropy(x, LABEL3, top_k=0.4), False),
    (FocalLoss(alpha=WEIGHTS3), lambda x: ref.focal(x, LABEL3, alpha=WEIGHTS3), False),
    (LovaszSoftmaxLoss(), lambda x: ref.lovasz_softmax(x, LABEL3), False),
    (BCELoss(pos_weight=2.0), lambda x: ref.bce(x, LABEL1, pos_weight=2.0), True),
    (DiceLoss(), lambda x: ref.dice(x, LABEL1), True)])
def test_gradient_matches_numeric_gradient_of_reference(loss, reference, binary):
    logits_np, label_np = (LOGITS1, LABEL1) if binary else (LOGITS3, LABEL3)
    logits = t(logits_np)
    logits.stop_gradient = False
    loss(logits, t(label_np)).backward()
    expected = numeric_grad(reference, logits_np.astype(np.float64))
    np.testing.assert_allclose(logits.grad.numpy(), expected, rtol=1e-3, atol=1e-5)
