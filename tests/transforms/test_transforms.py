"""Tests for paddleseg_lite.transforms: alignment, references, randomness, purity, errors, file reading."""
import copy
import random

import cv2
import numpy as np
import pytest

from paddleseg_lite import transforms as T
from paddleseg_lite.cvlibs import manager
from paddleseg_lite.transforms import functional as F
from paddleseg_lite.utils.errors import UserError

PAD = 127.5  # im_padding_value default
CODE = 200.0  # image value that encodes "1" in the alignment samples


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)


def blocky(rng, h, w, block=4, high=2):
    """Random piecewise-constant HW map with values in [0, high)."""
    coarse = rng.integers(0, high, (h // block + 1, w // block + 1))
    return np.kron(coarse, np.ones((block, block), np.int64))[:h, :w]


def encoded_sample(h=32, w=36, seed=0, label_dtype=np.int64):
    """A sample whose image encodes its label and fov.

    Channel 0 = CODE * label, channel 1 = CODE * fov, channel 2 = CODE (marks
    "inside the original image"), so the expected label/fov can be read back
    from the transformed image wherever interpolation left clean values.
    """
    rng = np.random.default_rng(seed)
    label = blocky(rng, h, w).astype(label_dtype)
    fov = blocky(rng, h, w, block=8).astype(np.uint8)
    img = np.stack([CODE * label, CODE * fov, np.full((h, w), CODE)], axis=2).astype(np.float32)
    return {"img": img, "label": label, "fov": fov, "gt_fields": ["label", "fov"], "trans_info": []}


def assert_aligned(out, min_valid=0.4):
    """label/fov equal the values decoded from the image at every cleanly interpolated pixel."""
    img, label, fov = out["img"], out["label"], out["fov"]
    assert img.shape[:2] == label.shape == fov.shape
    codes = img / CODE
    clean = np.all(np.abs(codes - np.round(codes)) < 0.05, axis=2) & (np.round(codes[:, :, 2]) == 1)
    assert clean.mean() >= min_valid
    np.testing.assert_array_equal(label[clean], np.round(codes[:, :, 0][clean]))
    np.testing.assert_array_equal(fov[clean], np.round(codes[:, :, 1][clean]))
    padded = np.all(img == PAD, axis=2)
    assert np.all(label[padded] == 255) and np.all(fov[padded] == 0)
    assert set(np.unique(label)) <= {0, 1, 255} and set(np.unique(fov)) <= {0, 1}


def drive_chain():
    return [T.ResizeStepScaling(0.5, 2.0, 0.25), T.RandomPaddingCrop([24, 24]), T.RandomHorizontalFlip(),
            T.RandomVerticalFlip(), T.RandomDistort(brightness_range=0.4, contrast_range=0.4,
                                                    saturation_range=0.4)]


GEOMETRIC_OPS = {
    "Resize": lambda: T.Resize((40, 24)),
    "Resize_keep_ratio_divisor": lambda: T.Resize((50, 50), keep_ratio=True, size_divisor=8),
    "Resize_nearest": lambda: T.Resize((23, 57), interp="NEAREST"),
    "ResizeByLong": lambda: T.ResizeByLong(50),
    "ResizeByShort": lambda: T.ResizeByShort(20),
    "ResizeStepScaling": lambda: T.ResizeStepScaling(0.5, 2.0, 0.25),
    "ResizeStepScaling_uniform": lambda: T.ResizeStepScaling(0.6, 1.7, 0),
    "RandomPaddingCrop_pad": lambda: T.RandomPaddingCrop([40, 44]),
    "RandomPaddingCrop_crop": lambda: T.RandomPaddingCrop([16, 20]),
    "Padding": lambda: T.Padding((48, 40)),
    "RandomHorizontalFlip": lambda: T.RandomHorizontalFlip(1.0),
    "RandomVerticalFlip": lambda: T.RandomVerticalFlip(1.0),
    "RandomRotation": lambda: T.RandomRotation(40),
    "RandomElasticDeformation": lambda: T.RandomElasticDeformation(sigma=4.0, prob=1.0),
}


@pytest.mark.parametrize("name", sorted(GEOMETRIC_OPS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_geometric_op_keeps_label_and_fov_aligned(name, seed):
    seed_all(seed)
    out = GEOMETRIC_OPS[name]()(encoded_sample(seed=seed))
    assert_aligned(out)


@pytest.mark.parametrize("label_dtype", [np.uint8, np.int32, np.int64])
def test_chain_alignment_and_output_types(label_dtype):
    seed_all(3)
    chain = T.Compose([T.RandomRotation(20), T.RandomElasticDeformation(sigma=3.0, prob=1.0)]
                      + drive_chain()[:4])
    for _ in range(3):
        out = chain(encoded_sample(seed=4, label_dtype=label_dtype))
        assert out["img"].dtype == np.float32 and out["img"].shape == (3, 24, 24)
        assert out["label"].dtype == np.int64 and out["fov"].dtype == np.uint8
        assert_aligned(dict(out, img=out["img"].transpose(1, 2, 0)), min_valid=0.2)


# ----------------------------------------------------------------------------- exact numpy references

def test_flips_match_numpy():
    sample = encoded_sample()
    h = T.RandomHorizontalFlip(1.0)(sample)
    v = T.RandomVerticalFlip(1.0)(sample)
    for key in ("img", "label", "fov"):
        np.testing.assert_array_equal(h[key], sample[key][:, ::-1])
        np.testing.assert_array_equal(v[key], sample[key][::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(0.0)(sample)["img"], sample["img"])


def test_flip_uses_python_random():
    seed_all(5)
    expected = [random.random() < 0.5 for _ in range(20)]
    seed_all(5)
    op, sample = T.RandomHorizontalFlip(), encoded_sample()
    flipped = [not np.array_equal(op(sample)["label"], sample["label"]) for _ in range(20)]
    assert flipped == expected


def test_padding_matches_numpy_and_records_trans_info():
    sample = encoded_sample(h=30, w=20)
    out = T.Padding((25, 33))(sample)
    np.testing.assert_array_equal(out["img"], np.pad(sample["img"], ((0, 3), (0, 5), (0, 0)),
                                                     constant_values=PAD))
    np.testing.assert_array_equal(out["label"], np.pad(sample["label"], ((0, 3), (0, 5)), constant_values=255))
    np.testing.assert_array_equal(out["fov"], np.pad(sample["fov"], ((0, 3), (0, 5))))
    assert out["trans_info"] == [("padding", (30, 20))]
    with pytest.raises(UserError, match="Padding"):
        T.Padding((10, 40))(sample)


def test_random_padding_crop_offsets_follow_np_random():
    sample = encoded_sample(h=30, w=40)
    np.random.seed(7)
    top, left = np.random.randint(30 - 12 + 1), np.random.randint(40 - 16 + 1)
    np.random.seed(7)
    out = T.RandomPaddingCrop([16, 12])(sample)
    for key in ("img", "label", "fov"):
        np.testing.assert_array_equal(out[key], sample[key][top:top + 12, left:left + 16])
    assert out["trans_info"] == []


def test_random_padding_crop_pads_bottom_right_first():
    sample = encoded_sample(h=10, w=12)
    np.random.seed(0)
    out = T.RandomPaddingCrop([12, 16], im_padding_value=0, label_padding_value=9)(sample)
    assert out["img"].shape == (16, 12, 3)  # width already fits: only 6 rows of padding, no crop
    np.testing.assert_array_equal(out["label"][:10], sample["label"])
    assert np.all(out["label"][10:] == 9) and np.all(out["fov"][10:] == 0) and np.all(out["img"][10:] == 0)


def test_random_padding_crop_exact_size_draws_nothing():
    np.random.seed(1)
    state = np.random.get_state()[1].copy()
    sample = encoded_sample(h=12, w=16)
    out = T.RandomPaddingCrop([16, 12])(sample)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    np.testing.assert_array_equal(out["label"], sample["label"])


def test_random_padding_crop_category_max_ratio_retries():
    label = np.zeros((64, 64), np.int64)
    label[50:, 50:] = 1  # one small class-1 corner
    label[:8, :8] = 255
    sample = {"img": np.zeros((64, 64, 3), np.float32), "label": label, "gt_fields": ["label"]}
    op = T.RandomPaddingCrop([16, 16], category_max_ratio=0.9, loop_times=200)
    for seed in range(5):
        np.random.seed(seed)
        crop = op(sample)["label"]
        values, counts = np.unique(crop[crop != 255], return_counts=True)
        assert len(values) == 2 and counts.max() / counts.sum() < 0.9


def test_resize_step_scaling_factor_draw():
    sample = encoded_sample(h=20, w=30)
    np.random.seed(11)
    factors = np.linspace(0.5, 2.0, 7).tolist()
    np.random.shuffle(factors)
    np.random.seed(11)
    out = T.ResizeStepScaling(0.5, 2.0, 0.25)(sample)
    assert out["img"].shape[:2] == (int(round(20 * factors[0])), int(round(30 * factors[0])))
    assert out["trans_info"] == []
    assert T.ResizeStepScaling(1.5, 1.5)(sample)["label"].shape == (30, 45)
    # (1.0 - 0.5) / 0.1 + 1 is 5.999... in floats: all six factors must be candidates.
    op, seen = T.ResizeStepScaling(0.5, 1.0, 0.1), set()
    for _ in range(200):
        seen.add(op(sample)["img"].shape[1])
    assert seen == {15, 18, 21, 24, 27, 30}


def test_resize_sizes_and_trans_info():
    sample = encoded_sample(h=30, w=60)
    chain = [T.Resize((40, 40), keep_ratio=True), T.Padding((48, 24)), T.ResizeByLong(96),
             T.Resize((17, 9), size_divisor=8), T.ResizeByShort(10, max_size=30)]
    shapes, data = [], sample
    for op in chain:
        data = op(data)
        shapes.append(data["img"].shape[:2])
    assert shapes == [(20, 40), (24, 48), (48, 96), (16, 24), (10, 15)]
    assert data["trans_info"] == [("resize", (30, 60)), ("padding", (20, 40)), ("resize", (24, 48)),
                                  ("resize", (48, 96)), ("resize", (16, 24))]
    assert sample["trans_info"] == []
    assert T.ResizeByShort(20, max_size=25)(sample)["img"].shape[:2] == (12, 25)


def test_resize_random_interp_uses_python_random():
    sample = encoded_sample()
    op = T.Resize((20, 20), interp="RANDOM")
    seed_all(3)
    first = [op(sample)["img"] for _ in range(5)]
    seed_all(3)
    second = [op(sample)["img"] for _ in range(5)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_rotation_canvas_size_and_labels():
    sample = encoded_sample(h=20, w=30)
    np.random.seed(2)
    angle = np.random.uniform(-45, 45)
    np.random.seed(2)
    out = T.RandomRotation(45)(sample)
    rad = np.deg2rad(abs(angle))
    assert out["img"].shape[:2] == (int(20 * np.cos(rad) + 30 * np.sin(rad)),
                                    int(20 * np.sin(rad) + 30 * np.cos(rad)))
    np.testing.assert_array_equal(T.RandomRotation(0)(sample)["label"], sample["label"])


def test_elastic_disabled_cases_are_identity():
    sample = encoded_sample()
    np.testing.assert_array_equal(T.RandomElasticDeformation(prob=0.0)(sample)["img"], sample["img"])
    out = T.RandomElasticDeformation(sigma=0.0, prob=1.0)(sample)
    np.testing.assert_allclose(out["img"], sample["img"], atol=1e-3)
    np.testing.assert_array_equal(out["label"], sample["label"])


def test_elastic_deforms_and_fills_outside_with_ignore():
    seed_all(0)
    out = T.RandomElasticDeformation(sigma=8.0, prob=1.0)(encoded_sample(h=48, w=48))
    assert not np.array_equal(out["label"], encoded_sample(h=48, w=48)["label"])
    assert np.any(out["label"] == 255)
    assert np.all(out["fov"][out["label"] == 255] == 0)


# ----------------------------------------------------------------------------- photometric

def rgb_image(h=24, w=28, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.float32)


def test_functional_enhance_hand_values():
    img = np.array([[[100, 50, 200], [10, 10, 10]]], np.uint8)
    np.testing.assert_array_equal(F.adjust_brightness(img, 1.5), [[[150, 75, 255], [15, 15, 15]]])
    gray = F.pil_gray(img)[:, :, 0]
    # PIL luma: (100*19595 + 50*38470 + 200*7471 + 32768) >> 16 = 82.
    np.testing.assert_array_equal(gray, [[82, 10]])
    mean = int(gray.mean() + 0.5)  # 46
    expected = np.floor(mean + 0.5 * (10 - mean))
    np.testing.assert_array_equal(F.adjust_contrast(img, 0.5)[0, 1], [expected] * 3)
    np.testing.assert_array_equal(F.adjust_saturation(img, 0.0)[0, 0], [82, 82, 82])
    np.testing.assert_array_equal(F.adjust_saturation(img[:, 1:], 1.7), img[:, 1:])  # gray is fixed
    red = np.array([[[255, 0, 0]]], np.uint8)
    np.testing.assert_array_equal(F.rgb_to_hsv(red), [[[0, 255, 255]]])
    np.testing.assert_array_equal(F.adjust_hue(red, 85.4), [[[0, 255, 0]]])  # 1/3 turn: red -> green
    np.testing.assert_array_equal(F.adjust_hue(red, -86.3), [[[0, 0, 255]]])  # trunc -86, wraps to 170: blue


def test_sharpness_uses_smooth_kernel_and_keeps_border():
    img = np.random.default_rng(0).integers(0, 256, (6, 7, 1)).astype(np.uint8)
    out = F.adjust_sharpness(img, 0.0)  # factor 0 = the smoothed image
    kernel = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]]) / 13.0
    ref = img[:, :, 0].astype(np.int64).copy()
    for y in range(1, 5):
        for x in range(1, 6):
            ref[y, x] = np.floor((img[y - 1:y + 2, x - 1:x + 2, 0] * kernel).sum() + 0.5)
    np.testing.assert_array_equal(out[:, :, 0], ref)


def paddleseg_distort_reference(img, op):
    """PaddleSeg's RandomDistort algorithm with PIL, drawing in the same order."""
    from PIL import Image, ImageEnhance
    names = ["brightness", "contrast", "saturation", "sharpness"] + (["hue"] if img.ndim == 3 else [])
    random.shuffle(names)
    pil = Image.fromarray(img.astype(np.uint8))
    enhancers = {"brightness": ImageEnhance.Brightness, "contrast": ImageEnhance.Contrast,
                 "saturation": ImageEnhance.Color, "sharpness": ImageEnhance.Sharpness}
    for name in names:
        if np.random.uniform(0, 1) < op.probs[name]:
            r = op.ranges[name]
            if name == "hue":
                hsv = np.array(pil.convert("HSV"))
                hsv[:, :, 0] = hsv[:, :, 0] + np.random.uniform(-r, r)
                pil = Image.fromarray(hsv, mode="HSV").convert("RGB")
            else:
                pil = enhancers[name](pil).enhance(np.random.uniform(1 - r, 1 + r))
    return np.asarray(pil).astype(np.float32)


@pytest.mark.parametrize("channels", [3, 1])
def test_random_distort_matches_paddleseg_with_pil(channels):
    pytest.importorskip("PIL")
    op = T.RandomDistort(brightness_prob=0.7, contrast_prob=0.7, saturation_prob=0.7, hue_prob=0.7,
                         sharpness_prob=0.7)
    for seed in range(8):
        img = rgb_image(seed=seed)[:, :, :channels]
        seed_all(seed)
        ref = paddleseg_distort_reference(img if channels == 3 else img[:, :, 0], op)
        seed_all(seed)
        out = op({"img": img})["img"]
        assert out.dtype == np.float32 and out.shape == img.shape
        np.testing.assert_array_equal(out.reshape(ref.shape), ref)


def test_random_distort_keeps_geometry_and_range():
    sample = encoded_sample()
    sample["img"] = sample["img"] * 1.5 - 40  # values outside [0, 255] saturate
    out = T.RandomDistort(brightness_prob=1, contrast_prob=1, saturation_prob=1, hue_prob=1,
                          sharpness_prob=1)(sample)
    np.testing.assert_array_equal(out["label"], sample["label"])
    assert out["img"].min() >= 0 and out["img"].max() <= 255
    np.testing.assert_array_equal(out["img"], np.round(out["img"]))


def test_normalize_values():
    img = np.array([[[0, 127.5, 255]]], np.float32)
    np.testing.assert_allclose(T.Normalize()({"img": img})["img"], [[[-1, 0, 1]]], atol=1e-6)
    out = T.Normalize(mean=[0, 0.5, 1], std=[1, 0.25, 2])({"img": img})["img"]
    np.testing.assert_allclose(out, [[[0, 0, 0]]], atol=1e-6)
    assert out.dtype == np.float32
    with pytest.raises(UserError, match="Normalize: mean has 2 values"):
        T.Normalize(mean=[0.1, 0.2])({"img": img})


def test_green_channel_and_clahe():
    img = rgb_image()
    green = T.GreenChannel()({"img": img})["img"]
    assert green.shape == img.shape
    for c in range(3):
        np.testing.assert_array_equal(green[:, :, c], img[:, :, 1])
    with pytest.raises(UserError, match="GreenChannel"):
        T.GreenChannel()({"img": img[:, :, :1]})
    dull = (100 + 0.1 * np.random.default_rng(1).integers(0, 256, (32, 32, 1))).astype(np.float32)
    sharp = T.CLAHE(clip_limit=4.0, tile_grid_size=2)({"img": dull})["img"]
    assert sharp.shape == dull.shape and sharp.std() > 2 * dull.std()
    gray = T.CLAHE()({"img": np.repeat(dull, 3, axis=2)})["img"]
    assert np.abs(gray - gray[:, :, :1]).max() <= 1  # a gray image stays gray
    assert 0 <= gray.min() and gray.max() <= 255


# ----------------------------------------------------------------------------- randomness and purity

def test_chain_is_deterministic_under_seeds():
    chain = T.Compose(drive_chain() + [T.RandomRotation(), T.RandomElasticDeformation(sigma=3.0),
                                       T.Normalize()])
    runs = []
    for seed in (0, 0, 1):
        seed_all(seed)
        runs.append([chain(encoded_sample(seed=9)) for _ in range(3)])
    for a, b in zip(runs[0], runs[1]):
        for key in ("img", "label", "fov"):
            np.testing.assert_array_equal(a[key], b[key])
    assert any(not np.array_equal(a["img"], c["img"]) for a, c in zip(runs[0], runs[2]))


ALL_OPS = dict(GEOMETRIC_OPS, RandomDistort=lambda: T.RandomDistort(hue_prob=1, sharpness_prob=1),
               Normalize=T.Normalize, GreenChannel=T.GreenChannel, CLAHE=T.CLAHE)


@pytest.mark.parametrize("name", sorted(ALL_OPS))
def test_ops_do_not_modify_inputs(name):
    seed_all(0)
    sample = encoded_sample()
    before = copy.deepcopy(sample)
    out = ALL_OPS[name]()(sample)
    for key in ("img", "label", "fov"):
        np.testing.assert_array_equal(sample[key], before[key])
    # Outputs are new arrays, so changing them later cannot reach the caller's arrays.
    for key in ("img", "label", "fov") if name in GEOMETRIC_OPS else ("img",):
        assert not np.shares_memory(out[key], sample[key])
    assert sample["trans_info"] == [] and sample.keys() == before.keys()


def test_compose_does_not_modify_inputs():
    sample = encoded_sample()
    before = copy.deepcopy(sample)
    out = T.Compose([T.Resize((20, 20)), T.RandomHorizontalFlip(1.0)])(sample)
    for key in ("img", "label", "fov"):
        np.testing.assert_array_equal(sample[key], before[key])
    untouched = T.Compose([])(sample)
    for key in ("img", "label", "fov"):
        assert not np.shares_memory(untouched[key], sample[key])
    assert sample["trans_info"] == [] and out["trans_info"] == [("resize", (32, 36))]


def test_all_ops_are_registered():
    for name in ALL_OPS:
        cls = getattr(T, name.split("_")[0])
        assert manager.TRANSFORMS[cls.__name__] is cls
    assert "Compose" not in manager.TRANSFORMS


# ----------------------------------------------------------------------------- bad parameters

BAD_PARAMS = [
    (lambda: T.RandomPaddingCrop(128), TypeError, "RandomPaddingCrop: crop_size"),
    (lambda: T.RandomPaddingCrop([128, 128, 3]), ValueError, "RandomPaddingCrop: crop_size"),
    (lambda: T.RandomPaddingCrop([128.0, 128]), TypeError, "RandomPaddingCrop: crop_size"),
    (lambda: T.RandomPaddingCrop([0, 128]), ValueError, "RandomPaddingCrop: crop_size"),
    (lambda: T.RandomPaddingCrop(category_max_ratio=0), ValueError, "category_max_ratio"),
    (lambda: T.RandomPaddingCrop(loop_times=0), ValueError, "loop_times"),
    (lambda: T.ResizeStepScaling(2.0, 0.5), ValueError, "ResizeStepScaling: min_scale_factor"),
    (lambda: T.ResizeStepScaling(0.5, 2.0, -0.25), ValueError, "scale_step_size"),
    (lambda: T.ResizeStepScaling("a", 2.0), TypeError, "ResizeStepScaling"),
    (lambda: T.Normalize(std=[0.5, 0]), ValueError, "Normalize: std"),
    (lambda: T.Normalize(mean="x"), TypeError, "Normalize: mean"),
    (lambda: T.RandomHorizontalFlip(1.5), ValueError, "RandomHorizontalFlip: prob"),
    (lambda: T.RandomVerticalFlip(-0.1), ValueError, "RandomVerticalFlip: prob"),
    (lambda: T.RandomDistort(hue_prob=2), ValueError, "RandomDistort: hue_prob"),
    (lambda: T.RandomDistort(brightness_range=-1), ValueError, "RandomDistort: brightness_range"),
    (lambda: T.Resize(512), TypeError, "Resize: target_size"),
    (lambda: T.Resize(interp="BILINEAR"), ValueError, "Resize: interp"),
    (lambda: T.Resize(size_divisor=0), ValueError, "Resize: size_divisor"),
    (lambda: T.ResizeByLong(0), ValueError, "ResizeByLong: long_size"),
    (lambda: T.ResizeByShort(1.5), TypeError, "ResizeByShort: short_size"),
    (lambda: T.Padding([1]), ValueError, "Padding: target_size"),
    (lambda: T.RandomRotation(-5), ValueError, "RandomRotation: max_rotation"),
    (lambda: T.RandomElasticDeformation(grid_size=1), ValueError, "RandomElasticDeformation: grid_size"),
    (lambda: T.RandomElasticDeformation(prob=3), ValueError, "RandomElasticDeformation: prob"),
    (lambda: T.CLAHE(clip_limit=0), ValueError, "CLAHE: clip_limit"),
    (lambda: T.Compose(T.Normalize()), TypeError, "Compose: transforms"),
    (lambda: T.Compose([{"type": "Normalize"}]), TypeError, "Compose: transforms\\[0\\]"),
    (lambda: T.Compose([], img_channels=4), ValueError, "Compose: img_channels"),
]


@pytest.mark.parametrize("factory,exc,message", BAD_PARAMS)
def test_bad_parameters_fail_at_construction(factory, exc, message):
    with pytest.raises(exc, match=message):
        factory()


# ----------------------------------------------------------------------------- Compose reading files

def write_sample_files(tmp_path, h=20, w=24):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    label = blocky(rng, h, w).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "img.png"), rgb[:, :, ::-1])
    cv2.imwrite(str(tmp_path / "img.tif"), rgb[:, :, ::-1])
    cv2.imwrite(str(tmp_path / "label.png"), label)
    return rgb, label


@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_compose_reads_image_and_label_files(tmp_path, suffix):
    rgb, label = write_sample_files(tmp_path)
    out = T.Compose([])({"img": str(tmp_path / ("img." + suffix)), "label": str(tmp_path / "label.png"),
                         "gt_fields": ["label"]})
    assert out["img"].shape == (3, 20, 24) and out["img"].dtype == np.float32
    np.testing.assert_array_equal(out["img"], rgb.transpose(2, 0, 1))  # BGR file -> RGB
    assert out["label"].dtype == np.int64
    np.testing.assert_array_equal(out["label"], label)
    bgr = T.Compose([], to_rgb=False)({"img": str(tmp_path / ("img." + suffix))})["img"]
    np.testing.assert_array_equal(bgr, rgb[:, :, ::-1].transpose(2, 0, 1))


def test_compose_grayscale_and_val_mode_label(tmp_path):
    _, label = write_sample_files(tmp_path)
    out = T.Compose([T.Resize((12, 10))], img_channels=1)(
        {"img": str(tmp_path / "img.png"), "label": str(tmp_path / "label.png"), "gt_fields": []})
    assert out["img"].shape == (1, 10, 12)
    gray = cv2.imread(str(tmp_path / "img.png"), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(out["label"], label)  # not in gt_fields: left at its size
    np.testing.assert_allclose(out["img"][0], cv2.resize(gray.astype(np.float32), (12, 10)), atol=1e-3)


def test_compose_reads_gif_label_and_fov(tmp_path):
    Image = pytest.importorskip("PIL.Image")  # cv2 cannot write an exact 0/255 GIF
    write_sample_files(tmp_path)
    mask = np.zeros((20, 24), np.uint8)
    mask[4:16, 5:20] = 255
    Image.fromarray(mask).save(tmp_path / "label.gif")
    Image.fromarray(mask).save(tmp_path / "mask.gif")
    out = T.Compose([T.RandomHorizontalFlip(1.0)])(
        {"img": str(tmp_path / "img.png"), "label": str(tmp_path / "label.gif"),
         "fov": str(tmp_path / "mask.gif"), "gt_fields": ["label", "fov"]})
    np.testing.assert_array_equal(out["label"], mask[:, ::-1])  # stored gray values, 0/255
    np.testing.assert_array_equal(out["fov"], (mask[:, ::-1] > 0).astype(np.uint8))
    assert out["fov"].dtype == np.uint8


def test_compose_reads_palette_png_indices(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    write_sample_files(tmp_path)
    indices = np.zeros((20, 24), np.uint8)
    indices[:, 8:] = 1
    indices[10:, :] = 2
    indices[0, 0] = 255
    palette = Image.fromarray(indices, "P")
    palette.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [7, 7, 7] * 252 + [224, 224, 192])
    palette.save(tmp_path / "pal.png")
    out = T.Compose([])({"img": str(tmp_path / "img.png"), "label": str(tmp_path / "pal.png"),
                         "gt_fields": ["label"]})
    np.testing.assert_array_equal(out["label"], indices)


def test_compose_file_errors(tmp_path):
    write_sample_files(tmp_path)
    missing = str(tmp_path / "nope.png")
    with pytest.raises(UserError, match="nope.png"):
        T.Compose([])({"img": missing})
    with pytest.raises(UserError, match="nope.png"):
        T.Compose([])({"img": str(tmp_path / "img.png"), "label": missing, "gt_fields": ["label"]})
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(UserError, match="junk.png"):
        T.Compose([])({"img": str(tmp_path / "junk.png")})
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((5, 5), np.uint8))
    with pytest.raises(UserError, match=r"size mismatch: label '.*small.png' is 5x5 \(WxH\) but its image '.*img.png'"):
        T.Compose([])({"img": str(tmp_path / "img.png"), "label": str(tmp_path / "small.png"),
                       "gt_fields": ["label"]})
    colour = np.zeros((20, 24, 3), np.uint8)
    colour[..., 2] = 200
    cv2.imwrite(str(tmp_path / "colour.png"), colour)
    with pytest.raises(UserError, match="colour.png is a colour image"):
        T.Compose([])({"img": str(tmp_path / "img.png"), "label": str(tmp_path / "colour.png"),
                       "gt_fields": ["label"]})
    with pytest.raises(ValueError, match="img_channels is 1"):
        T.Compose([], img_channels=1)({"img": rgb_image()})
    with pytest.raises(ValueError, match="gt_fields names 'fov'"):
        T.Compose([])({"img": rgb_image(), "gt_fields": ["fov"]})
