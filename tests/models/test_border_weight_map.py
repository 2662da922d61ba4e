"""border_weight_map and BorderWeightedCELoss against hand-computed and brute-force U-Net weight maps."""
import math

import numpy as np
import paddle
import pytest

import loss_refs as ref
from paddleseg_lite.models.losses import BorderWeightedCELoss, border_weight_map


def border(d_sum, w0=10.0, sigma=5.0):
    return w0 * math.exp(-d_sum ** 2 / (2 * sigma ** 2))


def test_two_single_pixel_components_on_a_strip():
    # Foreground at x=1 and x=7: background x gets d1 + d2 = |x-1| + |x-7| (8 at the ends, 6 between).
    label = np.array([[0, 1, 0, 0, 0, 0, 0, 1, 0]])
    wc_bg, wc_fg = 9 / (2 * 7), 9 / (2 * 2)
    expected = [wc_bg + border(8), wc_fg] + [wc_bg + border(6)] * 5 + [wc_fg, wc_bg + border(8)]
    np.testing.assert_allclose(border_weight_map(label, w0=10, sigma=5), [expected], rtol=1e-5)
    unbalanced = [1 + border(8), 1] + [1 + border(6)] * 5 + [1, 1 + border(8)]
    np.testing.assert_allclose(border_weight_map(label, class_balance=False), [unbalanced], rtol=1e-5)


def test_ignored_pixels_get_zero_and_are_not_counted():
    label = np.array([[0, 1, 0, 255, 0, 0, 0, 1, 0]])
    wc_bg, wc_fg = 8 / (2 * 6), 8 / (2 * 2)
    expected = [wc_bg + border(8, sigma=3), wc_fg, wc_bg + border(6, sigma=3), 0.0,
                wc_bg + border(6, sigma=3), wc_bg + border(6, sigma=3), wc_bg + border(6, sigma=3),
                wc_fg, wc_bg + border(8, sigma=3)]
    np.testing.assert_allclose(border_weight_map(label, sigma=3), [expected], rtol=1e-5)


def test_class_balance_averages_to_one():
    label = np.zeros((6, 6), 'int64')
    label[2, 1:5] = 1
    weights = border_weight_map(label, w0=0)
    assert weights.mean() == pytest.approx(1.0)
    assert weights[2, 1] == pytest.approx(36 / (2 * 4))


def test_single_component_or_none_has_no_border_term():
    label = np.array([[0, 1, 1, 0, 0]])
    np.testing.assert_allclose(border_weight_map(label, class_balance=False), [[1, 1, 1, 1, 1]])
    np.testing.assert_allclose(border_weight_map(np.zeros((3, 3), int)), np.ones((3, 3)))
    assert not border_weight_map(np.full((2, 2), 255)).any()


def test_only_the_largest_components_are_used():
    # Components: x=0..1 (size 2), x=4 (size 1), x=8..9 (size 2). With max_components=2 the single pixel is skipped,
    # so x=5 sees d1=3 (to x=8), d2=4 (to x=1); with 3 components it sees d1=1, d2=3.
    label = np.array([[1, 1, 0, 0, 1, 0, 0, 0, 1, 1]])
    capped = border_weight_map(label, class_balance=False, max_components=2)
    full = border_weight_map(label, class_balance=False, max_components=3)
    assert capped[0, 5] == pytest.approx(1 + border(7))
    assert full[0, 5] == pytest.approx(1 + border(4))


def test_matches_brute_force_reference_with_diagonal_distances():
    label = np.zeros((9, 11), 'int64')
    label[1, 1] = label[2, 2] = 1          # one 8-connected component (diagonal neighbours)
    label[6:8, 8] = 1
    label[7, 2:4] = 1
    label[4, 5] = 255
    weights = border_weight_map(label, w0=8.0, sigma=3.0)
    assert weights.dtype == np.float32 and weights.shape == (9, 11)
    np.testing.assert_allclose(weights, ref.border_weights(label, w0=8.0, sigma=3.0), rtol=1e-5)
    unbalanced = border_weight_map(label, w0=8.0, sigma=3.0, class_balance=False)
    assert unbalanced.dtype == np.float32
    np.testing.assert_allclose(unbalanced, ref.border_weights(label, 8.0, 3.0, class_balance=False), rtol=1e-5)


def test_diagonal_neighbours_are_one_component():
    label = np.eye(4, dtype='int64')
    np.testing.assert_allclose(border_weight_map(label, class_balance=False), np.ones((4, 4)))


def test_class_balance_weights_are_float32_without_a_border():
    weights = border_weight_map(np.array([[0, 0, 0, 1]]))
    assert weights.dtype == np.float32
    np.testing.assert_allclose(weights, [[4 / 6, 4 / 6, 4 / 6, 2.0]])


def test_ignore_index_argument_is_used():
    np.testing.assert_allclose(border_weight_map(np.array([[0, 7, 1, 1]]), ignore_index=7, class_balance=False),
                               [[1, 0, 1, 1]])


@pytest.mark.parametrize('max_components, d_sums', [(2, [7] * 5), (3, [3, 3, 4, 4, 4])])
def test_loss_uses_its_max_components_and_class_balance(max_components, d_sums):
    # The strip of test_only_the_largest_components: background x = 2, 3, 5, 6, 7 with d1 + d2 as listed.
    label = np.array([[[1, 1, 0, 0, 1, 0, 0, 0, 1, 1]]])
    logits = np.random.RandomState(5).randn(1, 2, 1, 10).astype('float32')
    weights = np.ones((1, 1, 10))
    weights[0, 0, [2, 3, 5, 6, 7]] += [border(d, w0=4.0, sigma=2.0) for d in d_sums]
    expected = (weights * ref.pixel_nll(logits, label, 255)).mean()
    loss = BorderWeightedCELoss(w0=4.0, sigma=2.0, class_balance=False, max_components=max_components)
    assert float(loss(paddle.to_tensor(logits), paddle.to_tensor(label))) == pytest.approx(expected, rel=1e-5)


def test_loss_with_zero_border_weight_and_no_balance_is_cross_entropy():
    label = np.array([[[0, 1, 0, 0, 1, 255]]])
    logits = np.random.RandomState(6).randn(1, 1, 1, 6).astype('float32')
    expected = ref.pixel_nll(logits, label, 255).sum() / 5
    loss = BorderWeightedCELoss(w0=0, class_balance=False)
    assert float(loss(paddle.to_tensor(logits), paddle.to_tensor(label))) == pytest.approx(expected, rel=1e-5)


def test_default_caps_the_border_term_at_ten_components():
    # Ten 2-pixel components, then a single pixel at x=40 (the 11th, smallest): by default it makes no border.
    label = np.zeros((1, 43), 'int64')
    for start in range(0, 40, 4):
        label[0, start:start + 2] = 1
    without_pixel = label.copy()
    label[0, 40] = 1
    expected = ref.border_weights(without_pixel, class_balance=False)
    expected[0, 40] = 1.0
    np.testing.assert_allclose(border_weight_map(label, class_balance=False), expected, rtol=1e-5)
    logits = np.random.RandomState(7).randn(1, 2, 1, 43).astype('float32')
    loss = BorderWeightedCELoss(class_balance=False)(paddle.to_tensor(logits), paddle.to_tensor(label[None]))
    assert float(loss) == pytest.approx((expected * ref.pixel_nll(logits, label[None], 255)[0]).mean(), rel=1e-5)
