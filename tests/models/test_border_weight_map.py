"""border_weight_map against hand-computed U-Net weight maps."""
import math

import numpy as np
import pytest

from paddleseg_lite.models.losses import border_weight_map


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
