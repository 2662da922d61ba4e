"""Overlays, error maps and probability images against hand-computed pixels."""
import numpy as np

from paddleseg_lite.utils.visual import color_map, error_map, overlay, probability_image

IMAGE = np.array([[[200, 40, 20], [100, 100, 100]],
                  [[0, 0, 0], [255, 255, 255]]], np.uint8)


def test_binary_overlay_paints_vessels_and_leaves_background_unchanged():
    pred = np.array([[1, 0], [0, 1]])
    out = overlay(IMAGE, pred, num_classes=2)
    # vessels: 0.85 * (0, 255, 0) + 0.15 * pixel
    np.testing.assert_allclose(out[0, 0], [30, 216.75 + 6, 3], atol=0.5)
    np.testing.assert_allclose(out[1, 1], [38.25, 255, 38.25], atol=0.5)
    np.testing.assert_array_equal(out[0, 1], IMAGE[0, 1])
    np.testing.assert_array_equal(out[1, 0], IMAGE[1, 0])
    assert overlay(IMAGE, pred, num_classes=1).tolist() == out.tolist()  # a 1-channel sigmoid model is binary


def test_binary_overlay_takes_class_one_of_a_given_palette():
    colors = np.array([[9, 9, 9], [0, 0, 255]], np.uint8)
    out = overlay(IMAGE, np.array([[1, 0], [0, 0]]), 2, colors)
    np.testing.assert_allclose(out[0, 0], [30, 6, 216.75 + 3], atol=0.5)
    np.testing.assert_array_equal(out[0, 1], IMAGE[0, 1])


def test_multiclass_overlay_is_paddleseg_blend():
    pred = np.array([[0, 1], [2, 0]])
    out = overlay(IMAGE, pred, num_classes=3)
    # PaddleSeg's palette: class 0 (128, 0, 0), 1 (0, 128, 0), 2 (128, 128, 0); 0.6 * image + 0.4 * colour
    np.testing.assert_allclose(out[0, 0], [120 + 51.2, 24, 12], atol=0.5)
    np.testing.assert_allclose(out[0, 1], [60, 60 + 51.2, 60], atol=0.5)
    np.testing.assert_allclose(out[1, 0], [51.2, 51.2, 0], atol=0.5)
    np.testing.assert_allclose(out[1, 1], [153 + 51.2, 153, 153], atol=0.5)
    assert color_map(3)[2].tolist() == [128, 128, 0]


def test_error_map_colours_each_outcome_and_blanks_uncounted_pixels():
    label = np.array([[1, 1, 0, 0, 255, 1]])
    pred = np.array([[1, 0, 1, 0, 1, 1]])
    fov = np.array([[1, 1, 1, 1, 1, 0]])
    out = error_map(pred, label, fov)
    assert out[0].tolist() == [[255, 255, 255], [0, 200, 255], [255, 0, 255], [48, 48, 48], [0, 0, 0], [0, 0, 0]]
    assert error_map(pred, label)[0, 5].tolist() == [255, 255, 255]  # without a FOV it counts


def test_probability_image_is_the_foreground_times_255():
    prob = np.array([[[0.75, 0.0]], [[0.25, 1.0]]])
    assert probability_image(prob).tolist() == [[64, 255]]
    three = np.array([[[0.2]], [[0.3]], [[0.5]]])
    assert probability_image(three).tolist() == [[128]]  # the highest class probability
