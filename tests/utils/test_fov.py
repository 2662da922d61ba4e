"""utils/fov.py: the FOV estimator against the synthetic fundus images' known FOV, its morphology steps on
hand-made masks, and `background_outside` on a hand-computed case."""
import numpy as np
import pytest

from paddleseg_lite.datasets.synthetic import SyntheticVessels
from paddleseg_lite.utils.fov import background_outside, estimate_fov, fill_holes, largest_component


def iou(a, b):
    a, b = a.astype(bool), b.astype(bool)
    return (a & b).sum() / (a | b).sum()


def harder(img, fov, rng):
    """The picture with what real fundus photos have and the synthetic ones lack: a noisy, not-black
    surround (0..20, as DRIVE's in 17 of its 20 training images), a bright speck outside the disc, and
    a dark blob inside it."""
    out = img.astype(np.float32)
    outside = fov == 0
    out[outside] = rng.uniform(0, 20, (outside.sum(), 3))
    out[:3, :3] = 255
    h, w = fov.shape
    out[h // 2 - 3:h // 2 + 3, w // 2 - 3:w // 2 + 3] = 5
    return out.astype(np.uint8)


@pytest.mark.parametrize("size", [48, 64])
@pytest.mark.parametrize("mode", ["train", "val"])
def test_estimate_matches_the_synthetic_fov(size, mode):
    dataset, rng = SyntheticVessels(mode=mode, num_samples=3, image_size=size), np.random.default_rng(0)
    for i in range(3):
        img, _, fov = dataset.generate(i)
        assert iou(estimate_fov(img), fov) >= 0.98
        assert iou(estimate_fov(harder(img, fov, rng)), fov) >= 0.98
        # any value scale and dtype: the same mask from float images in [0, 1]
        np.testing.assert_array_equal(estimate_fov(img.astype(np.float32) / 255), estimate_fov(img))


def test_estimate_returns_uint8_01_and_takes_gray_images():
    img, _, fov = SyntheticVessels(mode="val", num_samples=1, image_size=40).generate(0)
    mask = estimate_fov(img[:, :, 0])
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1} and iou(mask, fov) >= 0.98
    np.testing.assert_array_equal(estimate_fov(img[:, :, :1]), mask)


def test_a_flat_image_is_all_inside():
    np.testing.assert_array_equal(estimate_fov(np.full((8, 9, 3), 7, np.uint8)), np.ones((8, 9), np.uint8))


def test_largest_component_and_fill_holes_by_hand():
    mask = np.array([[1, 0, 0, 0, 0, 0],
                     [0, 0, 1, 1, 1, 0],
                     [0, 0, 1, 0, 1, 0],
                     [0, 0, 1, 1, 1, 0],
                     [0, 0, 0, 0, 0, 1]], np.uint8)
    # 8-connectivity: the bottom-right pixel touches the ring diagonally, the top-left one does not
    ring = mask.copy()
    ring[0, 0] = 0
    np.testing.assert_array_equal(largest_component(mask), ring)
    filled = ring.copy()
    filled[2, 3] = 1  # the hole; the background touching the border stays
    np.testing.assert_array_equal(fill_holes(ring), filled)
    np.testing.assert_array_equal(largest_component(np.zeros((3, 3), np.uint8)), np.zeros((3, 3), np.uint8))


def test_background_outside_by_hand():
    fov = np.array([[1, 0], [0, 1]], np.uint8)
    pred = np.array([[1, 1], [2, 0]], np.uint8)
    prob = np.array([[[0.1, 0.2], [0.3, 0.6]], [[0.9, 0.8], [0.1, 0.4]], [[0.0, 0.0], [0.6, 0.0]]], np.float32)
    before = pred.copy(), prob.copy()
    new_pred, new_prob = background_outside(fov, pred, prob)
    np.testing.assert_array_equal(new_pred, [[1, 0], [0, 0]])
    np.testing.assert_allclose(new_prob, [[[0.1, 1], [1, 0.6]], [[0.9, 0], [0, 0.4]], [[0, 0], [0, 0]]], rtol=1e-6)
    np.testing.assert_array_equal(pred, before[0])  # inputs untouched
    np.testing.assert_array_equal(prob, before[1])
    assert new_pred.dtype == np.uint8 and new_prob.dtype == np.float32
    assert background_outside(None, pred, prob) == (pred, prob)
    assert background_outside(fov, pred)[1] is None
