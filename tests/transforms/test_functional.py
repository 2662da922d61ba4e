"""Tests for paddleseg_lite.transforms.functional against literal arrays and independent references.

Expected arrays are written out by hand (the derivation is in the comments) or come from Pillow /
plain OpenCV calls, never from the function under test.
"""

import cv2
import numpy as np
import pytest

from paddleseg_lite.transforms import functional as F

NEAREST = cv2.INTER_NEAREST


def grid(h, w, dtype=np.float32, start=1):
    """h x w array start, start+1, ... row by row."""
    return (np.arange(h * w).reshape(h, w) + start).astype(dtype)


# ----------------------------------------------------------------------------- resizing

def test_resize_linear_literal():
    # OpenCV LINEAR samples x_src = (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 (clamped to 0..1),
    # so both axes interpolate with weights 0, .25, .75, 1: out = 10 * wx + 20 * wy.
    img = np.array([[0, 10], [20, 30]], np.float32)
    out = F.resize(img, (4, 4))
    np.testing.assert_allclose(out, [[0, 2.5, 7.5, 10], [5, 7.5, 12.5, 15],
                                     [15, 17.5, 22.5, 25], [20, 22.5, 27.5, 30]], atol=1e-4)
    assert out.dtype == np.float32


def test_resize_size_is_width_height_and_keeps_channel_axis():
    out = F.resize(np.zeros((3, 5, 1), np.float32), (7, 2))
    assert out.shape == (2, 7, 1)
    assert F.resize(np.zeros((3, 5, 3), np.uint8), (4.9, 6.2)).shape == (6, 4, 3)  # sides truncated to int


def test_resize_keeps_unsupported_integer_dtypes_exactly():
    # int64 is not an OpenCV dtype: it goes through float64, which holds 2**30 + 1 exactly (float32 would not).
    label = np.array([[2 ** 30 + 1, 3], [255, 0]], np.int64)
    out = F.resize(label, (4, 4), NEAREST)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, np.kron(label, np.ones((2, 2), np.int64)))
    mask = np.array([[True, False]])
    out = F.resize(mask, (4, 1), NEAREST)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, [[True, True, False, False]])


def test_rescale_size_literals():
    assert F.rescale_size((60, 30), (40, 40)) == ([40, 20], 40 / 60)
    # min(max(t)/max(s), min(t)/min(s)) = min(80/100, 20/50) = 0.4
    assert F.rescale_size((100, 50), (80, 20)) == ([40, 20], 0.4)
    assert F.rescale_size((50, 100), (80, 20)) == ([20, 40], 0.4)
    # scale 10/7: 3 * 10/7 = 4.29 rounds to 4 and 7 * 10/7 to 10.
    assert F.rescale_size((7, 3), (10, 10))[0] == [10, 4]
    assert F.rescale_size((3, 7), (10, 10))[0] == [4, 10]


def test_resize_long_and_short_sizes():
    img = np.zeros((3, 5), np.float32)
    assert F.resize_long(img, 8).shape == (5, 8)  # scale 1.6: 3 * 1.6 = 4.8 -> 5
    assert F.resize_long(img.T, 8).shape == (8, 5)
    assert F.resize_long(np.zeros((6, 5)), 3).shape == (3, 2)  # 5 * 0.5 = 2.5 rounds to even
    assert F.resize_short(img, 6, 1e10).shape == (6, 10)
    assert F.resize_short(img.T, 6, 1e10).shape == (10, 6)
    assert F.resize_short(img, 6, 10).shape == (6, 10)  # long side exactly at max_size: no cap
    assert F.resize_short(img, 6, 8).shape == (5, 8)  # capped: scale 8 / 5
    assert F.resize_short(img.T, 6, 8).shape == (8, 5)


def test_resize_long_short_interp_is_passed():
    label = grid(4, 4)
    # NEAREST takes source pixels 0 and 2 of each axis.
    np.testing.assert_array_equal(F.resize_long(label, 2, NEAREST), [[1, 3], [9, 11]])
    np.testing.assert_array_equal(F.resize_short(label, 2, 1e10, NEAREST), [[1, 3], [9, 11]])
    # LINEAR (the default) averages 2x2 blocks.
    np.testing.assert_allclose(F.resize_long(label, 2), [[3.5, 5.5], [11.5, 13.5]])
    np.testing.assert_allclose(F.resize_short(label, 2, 1e10), [[3.5, 5.5], [11.5, 13.5]])


# ----------------------------------------------------------------------------- pad, crop, flip

def test_pad_literal_bottom_right():
    arr = np.array([[1, 2], [3, 4]], np.uint8)
    out = F.pad(arr, 1, 2, 255.0)
    np.testing.assert_array_equal(out, [[1, 2, 255, 255], [3, 4, 255, 255], [255, 255, 255, 255]])
    assert out.dtype == np.uint8
    img = np.ones((1, 2, 3), np.float32)
    out = F.pad(img, 2, 0, 127.5)
    assert out.shape == (3, 2, 3)
    np.testing.assert_array_equal(out[1:], np.full((2, 2, 3), 127.5))
    np.testing.assert_array_equal(out[0], img[0])


def test_crop_and_flips_literal_and_new_arrays():
    arr = grid(3, 4)
    out = F.crop(arr, 1, 2, 2, 1)
    np.testing.assert_array_equal(out, [[7], [11]])
    out[0, 0] = -1
    assert arr[1, 2] == 7
    small = np.array([[1, 2, 3], [4, 5, 6]], np.int64)
    h, v = F.horizontal_flip(small), F.vertical_flip(small)
    np.testing.assert_array_equal(h, [[3, 2, 1], [6, 5, 4]])
    np.testing.assert_array_equal(v, [[4, 5, 6], [1, 2, 3]])
    h[0, 0] = v[0, 0] = -1
    np.testing.assert_array_equal(small, [[1, 2, 3], [4, 5, 6]])
    assert h.flags.c_contiguous and v.flags.c_contiguous


# ----------------------------------------------------------------------------- affine, rotation

def test_warp_affine_translation_fills_outside():
    img = np.array([[1, 2, 3], [4, 5, 6]], np.uint8)
    shift_right = np.array([[1, 0, 1], [0, 1, 0]], np.float64)
    out = F.warp_affine(img, shift_right, (4, 3), NEAREST, 9)
    np.testing.assert_array_equal(out, [[9, 1, 2, 3], [9, 4, 5, 6], [9, 9, 9, 9]])
    rgb = np.dstack([img, img * 10, img * 20]).astype(np.float32)
    out = F.warp_affine(rgb, shift_right, (3, 2), cv2.INTER_LINEAR, 127.5)
    assert out.shape == (2, 3, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 0], np.full((2, 3), 127.5))  # every channel is filled
    np.testing.assert_array_equal(out[:, 1:], rgb[:, :2])
    one = F.warp_affine(img[:, :, np.newaxis], shift_right, (3, 2), NEAREST, 0)
    assert one.shape == (2, 3, 1)


def test_rotation_matrix_90_and_180_degrees():
    # About (w // 2, h // 2) = (2, 1), counter-clockwise; 90 degrees swaps the canvas sides.
    matrix, size = F.rotation_matrix(2, 4, 90)
    assert size == (2, 4)
    np.testing.assert_allclose(matrix, [[0, 1, 0], [-1, 0, 4]], atol=1e-9)
    matrix, size = F.rotation_matrix(2, 4, 180)
    assert size == (4, 2)
    np.testing.assert_allclose(matrix, [[-1, 0, 4], [0, -1, 2]], atol=1e-9)
    matrix, size = F.rotation_matrix(4, 4, 0)
    assert size == (4, 4)
    np.testing.assert_allclose(matrix, [[1, 0, 0], [0, 1, 0]], atol=1e-12)


def test_rotation_matrix_odd_sizes_rotate_about_the_floored_centre():
    # h, w = 3, 5: centre (5 // 2, 3 // 2) = (2, 1), canvas 3 x 5; offsets 1 + (1.5 - 2) and 3 + (2.5 - 1).
    matrix, size = F.rotation_matrix(3, 5, 90)
    assert size == (3, 5)
    np.testing.assert_allclose(matrix, [[0, 1, 0.5], [-1, 0, 4.5]], atol=1e-9)


def test_rotation_matrix_canvas_of_30_degrees():
    matrix, size = F.rotation_matrix(20, 30, 30)
    c, s = np.cos(np.pi / 6), 0.5
    assert size == (int(20 * s + 30 * c), int(20 * c + 30 * s)) == (35, 32)
    # The image centre (15, 10) lands on the canvas centre.
    np.testing.assert_allclose(matrix @ [15, 10, 1], [35 / 2, 32 / 2])
    np.testing.assert_allclose(matrix[:, :2], [[c, s], [-s, c]])


def test_rotated_image_literal():
    img = grid(2, 4, np.uint8)  # [[1 2 3 4] [5 6 7 8]]
    matrix, size = F.rotation_matrix(2, 4, 90)
    # x' = y, y' = 4 - x: the right column moves to the top; column x = 0 falls off the 4-row canvas.
    np.testing.assert_array_equal(F.warp_affine(img, matrix, size, NEAREST, 0),
                                  [[0, 0], [4, 8], [3, 7], [2, 6]])


# ----------------------------------------------------------------------------- elastic

def test_elastic_maps_identity_and_constant_shift():
    map_x, map_y = F.elastic_maps(3, 4, np.zeros((2, 3, 3)))
    assert map_x.shape == map_y.shape == (3, 4) and map_x.dtype == np.float32
    np.testing.assert_array_equal(map_x, [[0, 1, 2, 3]] * 3)
    np.testing.assert_array_equal(map_y, [[0] * 4, [1] * 4, [2] * 4])
    shift = np.stack([np.full((2, 2), 1.5), np.full((2, 2), -2.0)])
    map_x, map_y = F.elastic_maps(3, 4, shift)
    np.testing.assert_allclose(map_x, np.array([[0, 1, 2, 3]] * 3) + 1.5, atol=1e-5)
    np.testing.assert_allclose(map_y, np.array([[0] * 4, [1] * 4, [2] * 4]) - 2.0, atol=1e-5)


def test_elastic_maps_upsample_bicubically():
    disp = np.zeros((2, 2, 2))
    disp[0] = [[0, 4], [0, 4]]  # x displacement grows left to right
    disp[1] = [[0, 0], [8, 8]]  # y displacement grows top to bottom
    map_x, map_y = F.elastic_maps(4, 4, disp)
    dx = cv2.resize(disp[0].astype(np.float32), (4, 4), interpolation=cv2.INTER_CUBIC)
    np.testing.assert_allclose(map_x - np.arange(4), dx, atol=1e-5)
    np.testing.assert_allclose(map_y - np.arange(4)[:, None], dx.T * 2, atol=1e-5)
    assert not np.allclose(dx, cv2.resize(disp[0].astype(np.float32), (4, 4)))  # not LINEAR


def test_remap_literal_with_fill():
    img = np.array([[1, 2, 3], [4, 5, 6]], np.int64)
    map_x = np.array([[1, 2, 3], [0, 0, 0]], np.float32)  # row 0 samples one pixel to the right
    map_y = np.array([[0, 0, 0], [1, 0, -1]], np.float32)
    out = F.remap(img, map_x, map_y, NEAREST, 255)
    np.testing.assert_array_equal(out, [[2, 3, 255], [4, 1, 255]])
    assert out.dtype == np.int64
    rgb = np.dstack([img, img, img]).astype(np.float32)
    out = F.remap(rgb, map_x, map_y, cv2.INTER_LINEAR, 127.5)
    np.testing.assert_array_equal(out[0, 2], [127.5] * 3)
    np.testing.assert_array_equal(out[1, 0], [4, 4, 4])


# ----------------------------------------------------------------------------- photometric basics

def test_normalize_and_to_uint8_literals():
    img = np.array([[0, 51, 255]], np.float64)
    out = F.normalize(img, np.float32(0.2), np.float32(0.4))
    np.testing.assert_allclose(out, [[-0.5, 0, 2]], atol=1e-6)
    assert out.dtype == np.float32
    out = F.to_uint8(np.array([-3, 2.5, 3.5, 254.6, 300, 17.2]))
    np.testing.assert_array_equal(out, [0, 2, 4, 255, 255, 17])  # rint rounds halves to even
    assert out.dtype == np.uint8


def enhance(img, op, factor):
    """F.enhance on a uint8 HxWxC array, back as an array of the same shape."""
    return np.asarray(F.enhance(F.to_pil(img), op, factor)).reshape(img.shape)


def test_to_pil_modes_and_pixels():
    img = np.random.default_rng(3).integers(0, 256, (5, 6, 4)).astype(np.uint8)
    for channels, mode in ((1, "L"), (3, "RGB"), (4, "RGBA")):
        pil = F.to_pil(img[:, :, :channels])
        assert pil.mode == mode and pil.size == (6, 5)
        np.testing.assert_array_equal(np.asarray(pil).reshape(5, 6, channels), img[:, :, :channels])
    assert F.to_pil(img[:, :, 0]).mode == "L"


def test_enhance_literals():
    img = np.array([[[100, 50, 200], [10, 10, 10]]], np.uint8)
    np.testing.assert_array_equal(enhance(img, "brightness", 0.5), [[[50, 25, 100], [5, 5, 5]]])
    # gray (ITU-R 601-2 luma, (r*19595 + g*38470 + b*7471 + 32768) >> 16) = [82, 10]; mean = int(46 + 0.5) = 46;
    # contrast 2: 46 + 2 * (v - 46), clipped.
    np.testing.assert_array_equal(enhance(img, "contrast", 2.0), [[[154, 54, 255], [0, 0, 0]]])
    # saturation 2: 2 * v - gray, gray 82 for the first pixel.
    np.testing.assert_array_equal(enhance(img, "saturation", 2.0), [[[118, 18, 255], [10, 10, 10]]])
    one = img[:, :, :1]
    np.testing.assert_array_equal(enhance(one, "saturation", 0.0), one)


def test_sharpness_literal_3x3():
    img = np.zeros((3, 3, 1), np.uint8)
    img[1, 1] = 130
    # SMOOTH of the centre: 130 * 5 / 13 = 50; the 1-pixel border is kept.
    np.testing.assert_array_equal(enhance(img, "sharpness", 0.0)[:, :, 0], [[0, 0, 0], [0, 50, 0], [0, 0, 0]])
    # factor 2: 50 + 2 * (130 - 50) = 210 in the centre.
    np.testing.assert_array_equal(enhance(img, "sharpness", 2.0)[:, :, 0], [[0, 0, 0], [0, 210, 0], [0, 0, 0]])
    tiny = np.full((2, 5, 1), 77, np.uint8)
    tiny[0, 2] = 3
    np.testing.assert_array_equal(enhance(tiny, "sharpness", 0.0), tiny)  # no interior pixels


def test_sharpness_uses_smooth_kernel_and_keeps_border():
    img = np.random.default_rng(0).integers(0, 256, (6, 7, 1)).astype(np.uint8)
    out = enhance(img, "sharpness", 0.0)  # factor 0 = the smoothed image
    kernel = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]]) / 13.0
    ref = img[:, :, 0].astype(np.int64).copy()
    for y in range(1, 5):
        for x in range(1, 6):
            ref[y, x] = np.floor((img[y - 1:y + 2, x - 1:x + 2, 0] * kernel).sum() + 0.5)
    np.testing.assert_array_equal(out[:, :, 0], ref)


def test_shift_hue_literals():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [128, 128, 128]]], np.uint8)
    # Hue on 0..255: red 0, green 255/3 = 85; +85.4 truncates to +85: red -> green, green -> blue (170);
    # gray has saturation 0 and stays gray.
    out = np.asarray(F.shift_hue(F.to_pil(rgb), 85.4))
    np.testing.assert_array_equal(out, [[[0, 255, 0], [0, 0, 255], [128, 128, 128]]])
    # -86.3 truncates to -86: red's hue 0 wraps to 170 (blue)
    np.testing.assert_array_equal(np.asarray(F.shift_hue(F.to_pil(rgb[:, :1]), -86.3)), [[[0, 0, 255]]])


def test_shift_hue_matches_paddleseg_formula():
    from PIL import Image
    img = np.random.default_rng(5).integers(0, 256, (9, 11, 3)).astype(np.uint8)
    for delta in (-30.7, 12.2, 140.0):
        hsv = np.asarray(Image.fromarray(img).convert("HSV")).copy()
        # PaddleSeg: hsv[..., 0] = hsv[..., 0] + delta, the float sum truncated into uint8 (wrapping).
        hsv[:, :, 0] = np.trunc(hsv[:, :, 0] + delta).astype(np.int64) % 256
        ref = np.asarray(Image.fromarray(hsv, mode="HSV").convert("RGB"))
        np.testing.assert_array_equal(np.asarray(F.shift_hue(F.to_pil(img), delta)), ref)


# ----------------------------------------------------------------------------- CLAHE

def test_clahe_matches_opencv():
    rng = np.random.default_rng(2)
    one = (100 + rng.integers(0, 30, (16, 16, 1))).astype(np.uint8)
    ref = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(2, 2)).apply(one[:, :, 0])
    out = F.clahe(one, 3.0, 2)
    assert out.shape == (16, 16, 1) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, :, 0], ref)
    assert not np.array_equal(ref, cv2.createCLAHE(clipLimit=3.0, tileGridSize=(4, 4)).apply(one[:, :, 0]))
    rgb = np.dstack([one[:, :, 0], one[:, :, 0] // 2, 255 - one[:, :, 0]])
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    lab[:, :, 0] = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(2, 2)).apply(lab[:, :, 0])
    np.testing.assert_array_equal(F.clahe(rgb, 3.0, 2), cv2.cvtColor(lab, cv2.COLOR_LAB2RGB))
    assert not np.array_equal(F.clahe(rgb, 3.0, 2), F.clahe(rgb[:, :, ::-1].copy(), 3.0, 2)[:, :, ::-1])


FUNCTIONS = {
    "resize": lambda a: F.resize(a, (3, 5)),
    "resize_long": lambda a: F.resize_long(a, 7),
    "resize_short": lambda a: F.resize_short(a, 7, 1e10),
    "pad": lambda a: F.pad(a, 1, 2, 0),
    "crop": lambda a: F.crop(a, 1, 1, 2, 2),
    "horizontal_flip": F.horizontal_flip,
    "vertical_flip": F.vertical_flip,
    "warp_affine": lambda a: F.warp_affine(a, np.array([[1.0, 0, 1], [0, 1, 0]]), (4, 4), NEAREST, 0),
    "remap": lambda a: F.remap(a, *F.elastic_maps(4, 4, np.ones((2, 2, 2))), NEAREST, 0),
    "normalize": lambda a: F.normalize(a, 0.5, 0.5),
    "to_uint8": F.to_uint8,
    "brightness": lambda a: enhance(a, "brightness", 1.3),
    "contrast": lambda a: enhance(a, "contrast", 1.3),
    "saturation": lambda a: enhance(a, "saturation", 1.3),
    "sharpness": lambda a: enhance(a, "sharpness", 1.3),
    "hue": lambda a: np.asarray(F.shift_hue(F.to_pil(a), 20)),
    "clahe": lambda a: F.clahe(a, 2.0, 2),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_functions_return_new_arrays_and_leave_inputs_alone(name):
    img = np.random.default_rng(1).integers(0, 256, (4, 4, 3)).astype(np.uint8)
    before = img.copy()
    out = FUNCTIONS[name](img)
    np.testing.assert_array_equal(img, before)
    assert not np.shares_memory(out, img)
