"""losses/utils.py helpers: prepare() (exact messages), binary logits, per-pixel NLL.

The argument checks the losses use are tested in tests/utils/test_validate.py, the label-range rule in
tests/utils/test_labels.py."""
import re

import numpy as np
import paddle
import pytest

import loss_refs as ref
from paddleseg_lite.models.losses import CrossEntropyLoss, DiceLoss
from paddleseg_lite.models.losses import utils as loss_utils
from paddleseg_lite.models.losses.utils import (as_two_class, foreground_probability, pixel_nll, prepare, safe_label,
                                                weight_tensor)
from paddleseg_lite.utils.errors import UserError

RNG = np.random.RandomState(3)
LOGITS = RNG.randn(2, 3, 2, 3).astype('float32')


def t(array):
    return paddle.to_tensor(array)


def raises(error, message):
    return pytest.raises(error, match='^' + re.escape(message) + '$')


class Named:
    """A stand-in loss: prepare() only reads `ignore_index` and the class name."""

    def __init__(self, ignore_index=255):
        self.ignore_index = ignore_index


def test_weight_tensor():
    out = weight_tensor('L', [1.0, 2.0], 2)
    assert out.dtype == paddle.float32 and out.numpy().tolist() == [1.0, 2.0]
    with raises(ValueError, "L: weight has 2 entries but the model outputs 3 classes; give one weight per class "
                            "(model.num_classes)."):
        weight_tensor('L', [1.0, 2.0], 3)


def test_prepare_returns_int64_label_and_float_mask():
    label = np.array([[[0, 2, 255], [1, 255, 0]]] * 2, 'int32')
    out, mask = prepare(Named(), t(LOGITS), t(label))
    assert out.dtype == paddle.int64 and mask.dtype == paddle.float32
    np.testing.assert_array_equal(out.numpy(), label)
    np.testing.assert_array_equal(mask.numpy(), label != 255)


@pytest.mark.parametrize('batch', [2, 1])
def test_prepare_squeezes_a_channel_label(batch):
    label = RNG.randint(0, 3, (batch, 1, 2, 3))
    out, _ = prepare(Named(), t(LOGITS[:batch]), t(label))
    np.testing.assert_array_equal(out.numpy(), label[:, 0])


def test_prepare_keeps_a_one_row_label():
    label = np.array([[[0, 1, 2]], [[2, 1, 0]]])
    out, mask = prepare(Named(), t(RNG.randn(2, 3, 1, 3).astype('float32')), t(label))
    np.testing.assert_array_equal(out.numpy(), label)
    assert mask.shape == [2, 1, 3]


def test_prepare_shape_errors_name_the_loss_and_shapes():
    with raises(ValueError, "DiceLoss: logits must be N x C x H x W, got shape [3, 2, 3]."):
        DiceLoss()(t(LOGITS[0]), t(np.zeros((2, 3), 'int64')))
    with raises(ValueError, "DiceLoss: label shape [2, 3, 2] does not match logits [2, 3, 2, 3] (expected N x H x W)."):
        DiceLoss()(t(LOGITS), t(np.zeros((2, 3, 2), 'int64')))
    with raises(ValueError, "Named: label shape [2, 2, 2, 3] does not match logits [2, 3, 2, 3] (expected N x H x W)."):
        prepare(Named(), t(LOGITS), t(np.zeros((2, 2, 2, 3), 'int64')))


RANGE_HINT = "check num_classes / ignore_index and the label files"


@pytest.mark.parametrize('value, channels, ignore, message', [
    (3, 3, 255, "Named: label values [3] are outside [0, 3) and not ignore_index 255; " + RANGE_HINT),
    (-1, 3, 255, "Named: label values [-1] are outside [0, 3) and not ignore_index 255; " + RANGE_HINT),
    (2, 1, 255, "Named: label values [2] are outside [0, 2) and not ignore_index 255; " + RANGE_HINT),
    (255, 3, -1, "Named: label values [255] are outside [0, 3) and not ignore_index -1; labels look like 0/255 "
                 "masks: convert them to 0/1 with the dataset option `label_map: {0: 0, 255: 1}`, or convert the "
                 "files with `tools/convert_labels.py --map 0:0 255:1` (tools/prepare_drive.py does for DRIVE)")])
def test_prepare_rejects_labels_outside_the_classes(value, channels, ignore, message):
    label = np.zeros((2, 2, 3), 'int64')
    label[1, 1, 2] = value
    with raises(UserError, message):
        prepare(Named(ignore), t(RNG.randn(2, channels, 2, 3).astype('float32')), t(label))


def test_prepare_reports_both_offending_ends():
    label = np.zeros((2, 2, 3), 'int64')
    label[0, 0, 0], label[1, 0, 1] = -3, 2
    with raises(UserError, "Named: label values [-3, 2] are outside [0, 2) and not ignore_index 255; " + RANGE_HINT):
        prepare(Named(), t(LOGITS[:, :2]), t(label))


def test_prepare_accepts_both_binary_classes_for_one_channel_and_ignores_ignored_values():
    label = np.array([[[0, 1, 77], [1, 0, 77]]] * 2)
    _, mask = prepare(Named(77), t(LOGITS[:, :1]), t(label))
    assert float(mask.sum()) == 8


@pytest.mark.parametrize('ignore, warns', [(0, True), (2, True), (3, False), (-1, False), (255, False)])
def test_ignore_index_warning_only_for_class_ids(monkeypatch, ignore, warns):
    messages = []
    monkeypatch.setattr(loss_utils.logger, 'warning', messages.append)
    loss = CrossEntropyLoss(ignore_index=ignore)
    for _ in range(2):
        loss(t(LOGITS), t(np.zeros((2, 2, 3), 'int64')))
    expected = ["CrossEntropyLoss: ignore_index {} is a class id (num_classes 3); those pixels are ignored.".format(
        ignore)]
    assert messages == (expected if warns else [])


def test_safe_label_maps_ignored_pixels_to_class_zero_without_touching_the_label():
    label = t(np.array([[[2, 255, 1]]]))
    out = safe_label(label, t(np.array([[[1.0, 0.0, 1.0]]], 'float32')))
    assert out.numpy().tolist() == [[[2, 0, 1]]] and label.numpy().tolist() == [[[2, 255, 1]]]


def test_as_two_class_and_foreground_probability():
    z = np.array([[[[-1.0, 0.0, 2.0]]]], 'float32')
    np.testing.assert_array_equal(as_two_class(t(z)).numpy(), np.concatenate([np.zeros_like(z), z], 1))
    np.testing.assert_array_equal(as_two_class(t(LOGITS)).numpy(), LOGITS)
    np.testing.assert_allclose(foreground_probability(t(z)).numpy(), ref.sigmoid(z[:, 0]), rtol=1e-6)
    np.testing.assert_allclose(foreground_probability(t(LOGITS)).numpy(), 1 - ref.softmax(LOGITS)[:, 0], rtol=1e-5)


@pytest.mark.parametrize('logits', [LOGITS, LOGITS[:, :1]])
def test_pixel_nll_matches_reference_and_is_zero_when_ignored(logits):
    label = np.array([[[0, 1, 255], [1, 255, 0]], [[1, 0, 0], [255, 1, 1]]])
    mask = (label != 255).astype('float32')
    out = pixel_nll(t(logits), t(label), t(mask))
    assert out.shape == [2, 2, 3]
    np.testing.assert_allclose(out.numpy(), ref.pixel_nll(logits, label, 255), rtol=1e-5, atol=1e-7)
