"""Whole / slide / mirror-padded / flip-scale inference on tiny hand-made models."""
import math

import cv2
import numpy as np
import paddle
import pytest

from paddleseg_lite.core import infer
from paddleseg_lite.utils.errors import UserError


class PointwiseNet(paddle.nn.Layer):
    """1x1 conv: translation- and flip-equivariant, no spatial context."""

    def __init__(self, out_channels=2):
        super().__init__()
        paddle.seed(0)
        self.conv = paddle.nn.Conv2D(3, out_channels, 1)
        self.calls = []

    def forward(self, x):
        self.calls.append(list(x.shape))
        return [self.conv(x)]


class MeanFilterNet(paddle.nn.Layer):
    """3x3 box filter with zero 'same' padding: border pixels depend on the padding."""

    def forward(self, x):
        weight = paddle.full([1, 3, 3, 3], 1.0 / 27)
        return [paddle.nn.functional.conv2d(x, weight, padding=1)]


class RampNet(paddle.nn.Layer):
    """Adds the column index: not flip-equivariant, so unflipping is observable."""

    def forward(self, x):
        ramp = paddle.arange(x.shape[3], dtype="float32").reshape([1, 1, 1, -1])
        return [x[:, :1] + ramp]


class TensorNet(paddle.nn.Layer):
    def forward(self, x):
        return x[:, :2]


class HalfPrecisionNet(PointwiseNet):
    def forward(self, x):
        return [self.conv(x).astype("float16")]


def image(h, w, seed=0):
    return paddle.to_tensor(np.random.default_rng(seed).normal(size=(1, 3, h, w)).astype("float32"))


def test_slide_equals_whole_when_crop_covers_image():
    model, im = PointwiseNet(), image(9, 11)
    whole = infer.inference(model, im).numpy()
    for crop in [(11, 9), (20, 16)]:
        model.calls.clear()
        slide = infer.inference(model, im, is_slide=True, crop_size=crop, stride=(4, 4)).numpy()
        np.testing.assert_allclose(slide, whole, rtol=1e-6, atol=1e-6)
        assert model.calls == [[1, 3, 9, 11]]  # one window: the whole image


def test_slide_windows_overlap_and_average_to_whole():
    model, im = PointwiseNet(), image(13, 17)
    whole = infer.inference(model, im).numpy()
    model.calls.clear()
    slide = infer.slide_inference(model, im, crop_size=(6, 5), stride=(4, 3)).numpy()
    np.testing.assert_allclose(slide, whole, rtol=1e-5, atol=1e-6)
    rows, cols = math.ceil((13 - 5) / 3) + 1, math.ceil((17 - 6) / 4) + 1
    assert len(model.calls) == rows * cols
    assert all(shape[2:] == [5, 6] for shape in model.calls)  # clipped windows shifted back


def test_slide_averages_overlapping_windows():
    """A model whose output depends on the window: overlap pixels get the mean over windows."""
    im = paddle.zeros([1, 3, 1, 5])
    got = infer.slide_inference(RampNet(), im, crop_size=(3, 1), stride=(2, 1)).numpy()[0, 0, 0]
    # windows start at 0 and 2; the ramp restarts in each window.
    np.testing.assert_allclose(got, [0, 1, (2 + 0) / 2, 1, 2])


def test_slide_mirror_pad_reflects_borders():
    im = image(12, 10)
    got = infer.slide_inference(MeanFilterNet(), im, crop_size=(40, 40), stride=(40, 40),
                                mirror_pad=True).numpy()
    assert got.shape == (1, 1, 12, 10)
    margin = 8  # at least 8 px, below the image size
    padded = np.pad(im.numpy()[0], ((0, 0), (margin, margin), (margin, margin)), mode="reflect")
    summed = padded.sum(axis=0)
    want = np.zeros((12, 10))
    for y in range(12):
        for x in range(10):
            want[y, x] = summed[margin + y - 1:margin + y + 2, margin + x - 1:margin + x + 2].sum() / 27
    np.testing.assert_allclose(got[0, 0], want, rtol=1e-5, atol=1e-5)
    plain = infer.slide_inference(MeanFilterNet(), im, (40, 40), (40, 40)).numpy()
    assert not np.allclose(plain[0, 0, 0], want[0], atol=1e-3)  # zero padding differs at borders


def test_slide_mirror_pad_small_crops_keep_shape_and_pointwise_result():
    model, im = PointwiseNet(), image(15, 14)
    got = infer.inference(model, im, is_slide=True, crop_size=(8, 8), stride=(4, 4), mirror_pad=True)
    assert got.shape == [1, 2, 15, 14]
    np.testing.assert_allclose(got.numpy(), infer.inference(model, im).numpy(), rtol=1e-5, atol=1e-6)


def test_slide_errors():
    model, im = PointwiseNet(), image(10, 10)
    with pytest.raises(RuntimeError, match="not predicted"):
        infer.slide_inference(model, im, crop_size=(2, 2), stride=(5, 5))
    with pytest.raises(UserError, match="crop_size"):
        infer.inference(model, im, is_slide=True, crop_size=None, stride=(5, 5))
    with pytest.raises(UserError, match="stride"):
        infer.inference(model, im, is_slide=True, crop_size=(4, 4), stride=(0, 4))


def test_model_must_return_list():
    with pytest.raises(TypeError, match="list/tuple of logits"):
        infer.inference(TensorNet(), image(4, 4))


def test_half_precision_output_is_cast_to_float32():
    logits = infer.inference(HalfPrecisionNet(), image(4, 5), is_slide=True,
                             crop_size=(3, 3), stride=(2, 2))
    assert logits.dtype == paddle.float32


def test_aug_inference_flips_on_equivariant_model_equal_plain():
    model, im = PointwiseNet(), image(8, 9)
    plain = infer.inference(model, im).numpy()
    model.calls.clear()
    aug = infer.aug_inference(model, im, scales=[1.0], flip_horizontal=True, flip_vertical=True)
    np.testing.assert_allclose(aug.numpy(), plain, rtol=1e-5, atol=1e-6)
    assert len(model.calls) == 4


def test_aug_inference_unflips_predictions():
    im = image(4, 6)
    got = infer.aug_inference(RampNet(), im, flip_horizontal=True).numpy()[0, 0]
    x = im.numpy()[0, 0]
    ramp = np.arange(6, dtype=np.float32)
    flipped_back = (x[:, ::-1] + ramp)[:, ::-1]  # infer on the flipped image, then unflip
    np.testing.assert_allclose(got, ((x + ramp) + flipped_back) / 2, rtol=1e-5, atol=1e-5)


def test_aug_inference_scales_resize_back_and_average():
    model, im = PointwiseNet(), paddle.ones([1, 3, 6, 8])  # constant image: resizing is exact
    plain = infer.inference(model, im).numpy()
    model.calls.clear()
    got = infer.aug_inference(model, im, scales=[0.5, 1.5]).numpy()
    np.testing.assert_allclose(got, plain, rtol=1e-5, atol=1e-5)
    assert [c[2:] for c in model.calls] == [[3, 4], [9, 12]]  # int(H*s+.5), int(W*s+.5)


def test_reverse_transform_resize_then_padding():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(1, 2, 8, 10)).astype(np.float32)
    # original 4x5 -> Resize to 6x7 -> Padding to 8x10 (trans_info holds the size before each op)
    trans_info = [("resize", (4, 5)), ("padding", (6, 7))]
    got = infer.reverse_transform(paddle.to_tensor(logits), trans_info).numpy()
    assert got.shape == (1, 2, 4, 5)
    for c in range(2):
        want = cv2.resize(logits[0, c, :6, :7], (5, 4), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(got[0, c], want, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(infer.reverse_transform(paddle.to_tensor(logits), None), logits)
    with pytest.raises(ValueError, match="'rotate'"):
        infer.reverse_transform(paddle.to_tensor(logits), [("rotate", (4, 5))])


def test_inference_maps_back_to_original_size():
    model, im = PointwiseNet(), image(8, 10)
    got = infer.inference(model, im, trans_info=[("padding", (5, 6))])
    np.testing.assert_allclose(got.numpy(), infer.inference(model, im).numpy()[:, :, :5, :6])


def test_binary_model_helpers():
    logits = paddle.to_tensor(np.array([[[[-2.0, 0.0, 0.3], [5.0, -0.1, 1e-3]]]], np.float32))
    pred = infer.logits_to_pred(logits)
    assert pred.dtype == paddle.int32 and pred.shape == [1, 1, 2, 3]
    np.testing.assert_array_equal(pred.numpy()[0, 0], [[0, 0, 1], [1, 0, 1]])
    prob = infer.logits_to_prob(logits).numpy()
    p = 1 / (1 + np.exp(-logits.numpy()[0, 0]))
    assert prob.shape == (1, 2, 2, 3)
    np.testing.assert_allclose(prob[0, 1], p, rtol=1e-6)
    np.testing.assert_allclose(prob[0, 0], 1 - p, rtol=1e-6)


def test_multiclass_helpers():
    raw = np.random.default_rng(4).normal(size=(2, 3, 4, 5)).astype(np.float32)
    logits = paddle.to_tensor(raw)
    pred = infer.logits_to_pred(logits).numpy()
    np.testing.assert_array_equal(pred[:, 0], raw.argmax(axis=1))
    prob = infer.logits_to_prob(logits).numpy()
    np.testing.assert_allclose(prob, np.exp(raw) / np.exp(raw).sum(1, keepdims=True), rtol=1e-5)
