"""Whole / slide / mirror-padded / flip-scale inference on tiny hand-made models."""
import math

import cv2
import numpy as np
import paddle
import pytest

from paddleseg_lite.core import infer, memory
from paddleseg_lite.models import outputs
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
    batches = [min(memory.WINDOW_BATCH, rows * cols - i) for i in range(0, rows * cols, memory.WINDOW_BATCH)]
    assert [shape[0] for shape in model.calls] == batches  # several windows per forward pass
    assert all(shape[1:] == [3, 5, 6] for shape in model.calls)  # clipped windows shifted back


def test_batched_windows_of_a_batch_of_images_match_one_window_at_a_time(monkeypatch):
    model, im = PointwiseNet(), paddle.concat([image(13, 17, seed) for seed in (1, 2)])
    batched = infer.slide_inference(model, im, crop_size=(6, 5), stride=(4, 3)).numpy()
    monkeypatch.setattr(memory, "WINDOW_BATCH", 1)
    model.calls.clear()
    single = infer.slide_inference(model, im, crop_size=(6, 5), stride=(4, 3)).numpy()
    assert {shape[0] for shape in model.calls} == {2}
    np.testing.assert_allclose(batched, single, rtol=1e-6, atol=1e-6)


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
    assert infer.inference(HalfPrecisionNet(), image(4, 5)).dtype == paddle.float32


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
    x = np.random.default_rng(13).normal(size=(3, 8, 10)).astype(np.float32)
    got = infer.inference(LocalRampNet(), paddle.to_tensor(x[None]), trans_info=[("padding", (5, 6))])
    np.testing.assert_allclose(got.numpy()[0], local_ramp(x)[:, :5, :6], rtol=1e-6, atol=1e-5)


def test_binary_model_helpers():
    logits = paddle.to_tensor(np.array([[[[-2.0, 0.0, 0.3], [5.0, -0.1, 1e-3]]]], np.float32))
    pred = outputs.logits_to_pred(logits)
    assert pred.dtype == paddle.int32 and pred.shape == [1, 1, 2, 3]
    np.testing.assert_array_equal(pred.numpy()[0, 0], [[0, 0, 1], [1, 0, 1]])
    prob = outputs.logits_to_prob(logits).numpy()
    p = 1 / (1 + np.exp(-logits.numpy()[0, 0]))
    assert prob.shape == (1, 2, 2, 3)
    np.testing.assert_allclose(prob[0, 1], p, rtol=1e-6)
    np.testing.assert_allclose(prob[0, 0], 1 - p, rtol=1e-6)


def test_multiclass_helpers():
    raw = np.random.default_rng(4).normal(size=(2, 3, 4, 5)).astype(np.float32)
    logits = paddle.to_tensor(raw)
    pred = outputs.logits_to_pred(logits)
    assert pred.dtype == paddle.int32 and pred.shape == [2, 1, 4, 5]
    np.testing.assert_array_equal(pred.numpy()[:, 0], raw.argmax(axis=1))
    prob = outputs.logits_to_prob(logits).numpy()
    np.testing.assert_allclose(prob, np.exp(raw) / np.exp(raw).sum(1, keepdims=True), rtol=1e-5)


# ----------------------------------------------------------------------------- numpy references

class LocalRampNet(paddle.nn.Layer):
    """x_R + 10*row + col in the window's own coordinates, and x_G - x_B: not translation- or
    flip-equivariant, so window positions, padding margins and flip axes all show in the output."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def forward(self, x):
        self.shapes.append(list(x.shape))
        h, w = x.shape[2], x.shape[3]
        ramp = 10 * paddle.arange(h, dtype="float32").reshape([1, 1, -1, 1]) + paddle.arange(
            w, dtype="float32").reshape([1, 1, 1, -1])
        return [paddle.concat([x[:, :1] + ramp, x[:, 1:2] - x[:, 2:3]], axis=1)]


def local_ramp(x):
    """LocalRampNet on one C×H×W numpy array."""
    h, w = x.shape[1:]
    ramp = 10 * np.arange(h)[:, None] + np.arange(w)[None, :]
    return np.stack([x[0] + ramp, x[1] - x[2]])


def np_windows(size, crop, stride):
    """PaddleSeg's window rule: ceil((size-crop)/stride)+1 starts (1 if the image fits), each clipped to
    the image and shifted back to stay crop-sized."""
    n = 1 if size <= crop else -(-(size - crop) // stride) + 1
    ends = [min(i * stride + crop, size) for i in range(n)]
    return [(max(end - crop, 0), end) for end in ends]


def np_slide(x, crop, stride, margins=(0, 0)):
    """Slide inference of `local_ramp` on C×H×W `x`, reflect-padded by margins (h, w) first."""
    (crop_w, crop_h), (stride_w, stride_h), (mh, mw) = crop, stride, margins
    h, w = x.shape[1:]
    x = np.pad(x, ((0, 0), (mh, mh), (mw, mw)), mode="reflect")
    total, count = np.zeros((2,) + x.shape[1:]), np.zeros(x.shape[1:])
    for top, bottom in np_windows(x.shape[1], crop_h, stride_h):
        for left, right in np_windows(x.shape[2], crop_w, stride_w):
            total[:, top:bottom, left:right] += local_ramp(x[:, top:bottom, left:right])
            count[top:bottom, left:right] += 1
    return (total / count)[:, mh:mh + h, mw:mw + w]


def np_resize(x, size):
    """Bilinear resize of C×H×W to size (h, w), half-pixel centres, no antialiasing (align_corners=False)."""
    def axis(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0)
        i0 = np.floor(src).astype(int)
        return i0, np.minimum(i0 + 1, n_in - 1), src - i0
    (y0, y1, fy), (x0, x1, fx) = axis(x.shape[1], size[0]), axis(x.shape[2], size[1])
    rows = x[:, y0] * (1 - fy)[:, None] + x[:, y1] * fy[:, None]
    return rows[:, :, x0] * (1 - fx) + rows[:, :, x1] * fx


def test_np_resize_reference_is_bilinear():
    x = np.arange(12, dtype=np.float64).reshape(1, 3, 4)
    np.testing.assert_allclose(np_resize(x, (3, 4)), x)  # same size: identity
    np.testing.assert_allclose(np_resize(x, (1, 2))[0], [[4.5, 6.5]])  # 2x2 block means of the linear ramp


def test_slide_window_starts_shift_back_into_the_image():
    # width 8, crop 4, stride 3: starts 0, 3 and 4 (the third window 6..10 is shifted back to 4..8)
    got = infer.slide_inference(RampNet(), paddle.zeros([1, 3, 1, 8]), crop_size=(4, 1), stride=(3, 1))
    np.testing.assert_allclose(got.numpy()[0, 0, 0], [0, 1, 2, 1.5, 0.5, 1.5, 2.5, 3])


def test_slide_matches_numpy_tiling_reference():
    x = np.random.default_rng(5).normal(size=(3, 11, 13)).astype(np.float32)
    model = LocalRampNet()
    got = infer.slide_inference(model, paddle.to_tensor(x[None]), crop_size=(5, 4), stride=(3, 2)).numpy()
    np.testing.assert_allclose(got[0], np_slide(x, (5, 4), (3, 2)), rtol=1e-5, atol=1e-4)
    # rows: starts 0, 2, 4, 6, 7 (5 windows of height 4); cols: 0, 3, 6, 8 (4 windows of width 5)
    assert model.shapes == [[4, 3, 4, 5]] * 5  # 20 windows, WINDOW_BATCH per forward pass


def test_slide_mirror_pad_margins_and_windows_match_numpy():
    x = np.random.default_rng(6).normal(size=(3, 10, 24)).astype(np.float32)
    model = LocalRampNet()
    got = infer.inference(model, paddle.to_tensor(x[None]), is_slide=True, crop_size=(30, 30),
                          stride=(6, 8), mirror_pad=True).numpy()
    # margin_h = min(max((30 - 8) // 2, 8), 10 - 1) = 9; margin_w = min(max((30 - 6) // 2, 8), 23) = 12
    assert model.shapes == [[1, 3, 32, 32], [4, 3, 28, 30]]  # core.memory's probe; padded 28x48: one row of windows, starts 0, 6, 12, 18
    np.testing.assert_allclose(got[0], np_slide(x, (30, 30), (6, 8), margins=(9, 12)), rtol=1e-5, atol=1e-4)
    plain = infer.inference(model, paddle.to_tensor(x[None]), is_slide=True, crop_size=(30, 30), stride=(6, 8))
    np.testing.assert_allclose(plain.numpy()[0], np_slide(x, (30, 30), (6, 8)), rtol=1e-5, atol=1e-4)


def test_slide_mirror_margin_is_at_least_eight():
    x = np.random.default_rng(7).normal(size=(3, 12, 12)).astype(np.float32)
    model = LocalRampNet()
    got = infer.slide_inference(model, paddle.to_tensor(x[None]), (16, 16), (12, 12), mirror_pad=True).numpy()
    assert model.shapes[0][1:] == [3, 16, 16]  # (16 - 12) // 2 = 2 < 8: margin 8, padded to 28x28
    np.testing.assert_allclose(got[0], np_slide(x, (16, 16), (12, 12), margins=(8, 8)), rtol=1e-5, atol=1e-4)


def test_slide_one_pixel_windows():
    im = paddle.to_tensor(np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3).repeat(3, axis=1))
    got = infer.slide_inference(RampNet(), im, crop_size=(1, 1), stride=(1, 1)).numpy()
    np.testing.assert_allclose(got[0, 0], [[0, 1, 2], [3, 4, 5]])  # every window is column 0 of its own


def test_slide_gap_error_names_stride_and_crop():
    with pytest.raises(RuntimeError, match=r"stride \(5, 6\) leaves gaps between crop_size \(2, 3\)"):
        infer.slide_inference(PointwiseNet(), image(10, 10), crop_size=(2, 3), stride=(5, 6))


@pytest.mark.parametrize("name,crop,stride,must", [
    ("crop_size", ("a", "b"), (2, 2), "a list [width, height] of integers >= 1"),
    ("crop_size", (4, 0), (2, 2), "a list [width, height] of integers >= 1"),
    ("crop_size", (4.0, 4), (2, 2), "a list [width, height] of integers >= 1"),  # real integers only
    ("stride", (4, 4), (-1, 2), "a list [width, height] of integers >= 1"),
    ("stride", (4, 4), (2, 0), "a list [width, height] of integers >= 1"),
    ("stride", (4, 4), (1, 2, 3), "a list of 2 items [width, height]"),
    ("stride", (4, 4), 2, "a list [width, height] of integers >= 1")])
def test_slide_sizes_must_be_two_positive_ints(name, crop, stride, must):
    bad = crop if name == "crop_size" else stride
    message = f"test_config.{name} (--{name}) must be {must}, got {bad!r}"
    with pytest.raises(UserError) as err:
        infer.slide_inference(PointwiseNet(), image(6, 6), crop_size=crop, stride=stride)
    assert str(err.value) == message


class ReturnsNet(paddle.nn.Layer):
    def __init__(self, output):
        super().__init__()
        self.output = output

    def forward(self, x):
        return self.output


def test_model_output_contract_errors():
    with pytest.raises(TypeError, match=r"non-empty list/tuple of logits \(N×C×H×W\), but returned list"):
        infer.inference(ReturnsNet([]), image(4, 5))
    with pytest.raises(ValueError, match=r"at input size \[4, 5\], got shape \[2, 4, 5\]"):
        infer.inference(ReturnsNet([paddle.zeros([2, 4, 5])]), image(4, 5))
    with pytest.raises(ValueError, match=r"at input size \[4, 5\], got shape \[1, 2, 4, 4\]"):
        infer.inference(ReturnsNet((paddle.zeros([1, 2, 4, 4]),)), image(4, 5))
    got = infer.inference(ReturnsNet((paddle.ones([1, 2, 4, 5]), paddle.zeros([1, 2, 4, 5]))), image(4, 5))
    np.testing.assert_array_equal(got.numpy(), np.ones((1, 2, 4, 5)))  # the first output is used


def np_aug(x, scales, flips):
    """Mean of local_ramp over scales × flip axes (of C×H×W), each resized back to H×W."""
    h, w = x.shape[1:]
    outs = []
    for s in scales:
        scaled = np_resize(x, (int(h * s + 0.5), int(w * s + 0.5)))
        for axes in flips:
            out = np.flip(local_ramp(np.flip(scaled, axes)), axes)
            outs.append(np_resize(out, (h, w)))
    return np.mean(outs, axis=0)


@pytest.mark.parametrize("horizontal,vertical,flips", [
    (True, False, [(), (2,)]), (False, True, [(), (1,), (1, 2)]), (True, True, [(), (2,), (1,), (1, 2)])])
def test_aug_inference_flips_match_numpy(horizontal, vertical, flips):
    x = np.random.default_rng(8).normal(size=(3, 5, 7)).astype(np.float32)
    got = infer.aug_inference(LocalRampNet(), paddle.to_tensor(x[None]), flip_horizontal=horizontal,
                              flip_vertical=vertical).numpy()
    np.testing.assert_allclose(got[0], np_aug(x, [1.0], flips), rtol=1e-5, atol=1e-4)


def test_aug_inference_scales_and_flips_match_numpy():
    x = np.random.default_rng(9).normal(size=(3, 6, 10)).astype(np.float32)
    model = LocalRampNet()
    got = infer.aug_inference(model, paddle.to_tensor(x[None]), scales=[0.5, 1.5], flip_horizontal=True,
                              flip_vertical=True).numpy()
    assert [s[2:] for s in model.shapes] == [[3, 5]] * 4 + [[9, 15]] * 4
    np.testing.assert_allclose(got[0], np_aug(x, [0.5, 1.5], [(), (2,), (1,), (1, 2)]), rtol=1e-5, atol=1e-4)


def test_aug_inference_scale_rounds_half_up():
    model = LocalRampNet()
    x = np.random.default_rng(10).normal(size=(3, 5, 7)).astype(np.float32)
    got = infer.aug_inference(model, paddle.to_tensor(x[None]), scales=0.5).numpy()
    assert model.shapes == [[1, 3, 3, 4]]  # int(2.5 + .5), int(3.5 + .5)
    np.testing.assert_allclose(got[0], np_aug(x, [0.5], [()]), rtol=1e-5, atol=1e-4)


def test_aug_inference_integer_scale_and_trans_info():
    x = np.random.default_rng(11).normal(size=(3, 6, 8)).astype(np.float32)
    model = LocalRampNet()
    got = infer.aug_inference(model, paddle.to_tensor(x[None]), trans_info=[("padding", (4, 5))], scales=2)
    assert model.shapes == [[1, 3, 12, 16]]
    np.testing.assert_allclose(got.numpy()[0], np_aug(x, [2], [()])[:, :4, :5], rtol=1e-5, atol=1e-4)


def test_aug_inference_passes_slide_options_through():
    x = np.random.default_rng(12).normal(size=(3, 10, 24)).astype(np.float32)
    got = infer.aug_inference(LocalRampNet(), paddle.to_tensor(x[None]), is_slide=True, crop_size=(30, 30),
                              stride=(6, 8), mirror_pad=True).numpy()
    np.testing.assert_allclose(got[0], np_slide(x, (30, 30), (6, 8), margins=(9, 12)), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("scales,message", [
    ([], "test_config.scales (--scales) must be positive numbers, got []"),
    ([1.0, 0], "test_config.scales (--scales) must be > 0, got 0"),
    (-1.0, "test_config.scales (--scales) must be > 0, got -1.0")])
def test_aug_inference_scales_must_be_positive(scales, message):
    with pytest.raises(UserError) as err:
        infer.aug_inference(PointwiseNet(), image(4, 4), scales=scales)
    assert str(err.value) == message


def test_reverse_transform_literal_values_crop_before_resize():
    logits = paddle.arange(36, dtype="float32").reshape([1, 1, 6, 6])  # value = 6 * row + col
    # original 2x3 -> Resize to 4x4 -> Padding to 6x6: undo = crop to 4x4, then resize to 2x3.
    got = infer.reverse_transform(logits, [("resize", (2, 3)), ("padding", (4, 4))]).numpy()[0, 0]
    # bilinear of a linear ramp is exact: rows sample 0.5, 2.5; cols sample 1/6, 1.5, 17/6
    np.testing.assert_allclose(got, [[3 + 1 / 6, 4.5, 5 + 5 / 6], [15 + 1 / 6, 16.5, 17 + 5 / 6]], rtol=1e-5)


def test_reverse_transform_accepts_collated_sizes():
    logits = paddle.arange(20, dtype="float32").reshape([1, 1, 4, 5])
    want = np.arange(20).reshape(1, 1, 4, 5)
    for size, (h, w) in [((paddle.to_tensor([3]), paddle.to_tensor([2])), (3, 2)),
                         ((np.array([2]), np.int64(4)), (2, 4))]:
        got = infer.reverse_transform(logits, [("padding", size)]).numpy()
        np.testing.assert_array_equal(got, want[:, :, :h, :w])
