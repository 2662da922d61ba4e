"""Tests for paddleseg_lite.transforms: alignment, references, randomness, purity, errors, file reading."""
import collections
import copy
import random

import cv2
import numpy as np
import pytest

from paddleseg_lite import transforms as T
from paddleseg_lite.cvlibs import manager
from paddleseg_lite.utils.errors import UserError

PAD = 127.5  # im_padding_value default
CODE = 200.0  # image value that encodes "1" in the alignment samples


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)


def np_state():
    """np.random's Mersenne Twister keys and position (the keys alone change only every 624 draws)."""
    _, keys, pos = np.random.get_state()[:3]
    return keys.tolist(), pos


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
    "RandomRotation90": lambda: T.RandomRotation90(1.0),
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


def test_rotation90_matches_numpy_and_draws_the_8_symmetries_uniformly_with_the_flips():
    sample = encoded_sample()
    r = T.RandomRotation90(1.0)(sample)
    for key in ("img", "label", "fov"):  # counter-clockwise: the last column becomes the first row
        columns = [sample[key][:, j] for j in range(sample[key].shape[1])]
        np.testing.assert_array_equal(r[key], np.stack(columns[::-1]))
    np.testing.assert_array_equal(T.RandomRotation90(0.0)(sample)["label"], sample["label"])
    seed_all(0)
    ops = [T.RandomHorizontalFlip(), T.RandomVerticalFlip(0.5), T.RandomRotation90()]
    counts = collections.Counter()
    for _ in range(800):
        out = {"img": np.arange(9, dtype=np.uint8).reshape(3, 3), "label": np.zeros((3, 3), np.uint8)}
        for op in ops:
            out = op(out)
        counts[out["img"].tobytes()] += 1
    assert len(counts) == 8 and min(counts.values()) > 60  # 100 expected each


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
    state = np_state()
    sample = encoded_sample(h=12, w=16)
    out = T.RandomPaddingCrop([16, 12])(sample)
    assert np_state() == state
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


def test_elastic_disabled_cases_are_identity():
    sample = encoded_sample()
    np.testing.assert_array_equal(T.RandomElasticDeformation(prob=0.0)(sample)["img"], sample["img"])
    out = T.RandomElasticDeformation(sigma=0.0, prob=1.0)(sample)
    np.testing.assert_allclose(out["img"], sample["img"], atol=1e-3)
    np.testing.assert_array_equal(out["label"], sample["label"])


# ----------------------------------------------------------------------------- photometric

def rgb_image(h=24, w=28, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.float32)


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


def test_random_distort_refuses_a_channel_count_pil_has_no_mode_for():
    with pytest.raises(UserError, match=r"RandomDistort: needs a 1-, 3- or 4-channel image .*\(24, 28, 2\)"):
        T.RandomDistort()({"img": rgb_image()[:, :, :2]})


def test_random_gamma_applies_the_power_law_to_the_image_only():
    sample = encoded_sample()
    sample["img"] = np.array([[[0, 63.75, 127.5]], [[255, 300, -5]]], np.float32)
    out = T.RandomGamma(gamma_range=[2, 2], prob=1)(sample)
    np.testing.assert_allclose(out["img"], [[[0, 15.9375, 63.75]], [[255, 255, 0]]], rtol=1e-6)
    assert out["img"].dtype == np.float32
    np.testing.assert_array_equal(out["label"], sample["label"])
    np.testing.assert_array_equal(out["fov"], sample["fov"])
    kept = T.RandomGamma(gamma_range=[2, 2], prob=0)(sample)
    assert kept is not sample
    np.testing.assert_array_equal(kept["img"], sample["img"])


def test_random_gamma_brightens_and_darkens_equally_often_on_an_asymmetric_range():
    seed_all(0)
    op = T.RandomGamma(gamma_range=[0.5, 2.0], prob=0.5)
    mid = np.full((1, 1, 1), 127.5, np.float32)
    values = np.array([op({"img": mid})["img"].item() for _ in range(4000)])
    changed = values[values != 127.5]
    assert abs(len(changed) / 4000 - 0.5) < 0.03
    assert abs((changed > 127.5).mean() - 0.5) < 0.04  # uniform over [0.5, 2] would darken 2/3 of them
    assert changed.min() >= 255 * 0.5 ** 2 - 1e-3 and changed.max() <= 255 * 0.5 ** 0.5 + 1e-3


@pytest.mark.parametrize("kwargs, message", [
    (dict(gamma_range=[0, 1.5]), r"RandomGamma: gamma_range must be > 0, got 0"),
    (dict(gamma_range=[1.5, 0.7]), r"RandomGamma: gamma_range \[low, high\] needs low <= high"),
    (dict(gamma_range=1.2), r"RandomGamma: gamma_range must be a list \[low, high\]"),
    (dict(prob=2), r"RandomGamma: prob must be in \[0.0, 1.0\]"),
])
def test_random_gamma_rejects_bad_arguments(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        T.RandomGamma(**kwargs)


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


# ----------------------------------------------------------------------------- literal outputs of each op

def literal_sample():
    """4x4 sample: img = label * 10 in every channel, label 1..16 row by row, fov a left/right split."""
    label = np.arange(1, 17, dtype=np.int64).reshape(4, 4)
    fov = np.array([[1, 1, 0, 0]] * 4, np.uint8)
    img = np.repeat((label * 10).astype(np.float32)[:, :, None], 3, axis=2)
    return {"img": img, "label": label, "fov": fov, "gt_fields": ["label", "fov"], "trans_info": []}


def test_resize_literal_img_linear_and_fields_nearest_exact():
    out = T.Resize((2, 2))(literal_sample())
    # LINEAR halving averages 2x2 blocks; gt_fields take the pixel-centre-aligned source pixels 1 and 3
    # (plain INTER_NEAREST would take 0 and 2).
    np.testing.assert_allclose(out["img"][:, :, 0], [[35, 55], [115, 135]])
    np.testing.assert_array_equal(out["label"], [[6, 8], [14, 16]])
    np.testing.assert_array_equal(out["fov"], [[1, 0], [1, 0]])
    assert out["label"].dtype == np.int64 and out["fov"].dtype == np.uint8
    assert out["trans_info"] == [("resize", (4, 4))]
    nearest = T.Resize((2, 2), interp="NEAREST")(literal_sample())
    np.testing.assert_array_equal(nearest["img"][:, :, 0], [[60, 80], [140, 160]])


@pytest.mark.parametrize("interp,flag", [("NEAREST", cv2.INTER_NEAREST_EXACT), ("LINEAR", cv2.INTER_LINEAR),
                                         ("CUBIC", cv2.INTER_CUBIC), ("AREA", cv2.INTER_AREA),
                                         ("LANCZOS4", cv2.INTER_LANCZOS4)])
def test_resize_interp_names_map_to_opencv_flags(interp, flag):
    img = rgb_image(9, 7)
    out = T.Resize((5, 4), interp=interp)({"img": img})["img"]
    np.testing.assert_array_equal(out, cv2.resize(img, (5, 4), interpolation=flag))


def test_resize_random_interp_draws_with_random_choice():
    # random.choice over [NEAREST, LINEAR, CUBIC, AREA, LANCZOS4]: seed 0 -> AREA, 2 -> NEAREST, 5 -> LANCZOS4.
    img = rgb_image(9, 7)
    for seed, flag in ((0, cv2.INTER_AREA), (2, cv2.INTER_NEAREST_EXACT), (5, cv2.INTER_LANCZOS4)):
        random.seed(seed)
        out = T.Resize((5, 4), interp="RANDOM")({"img": img})["img"]
        np.testing.assert_array_equal(out, cv2.resize(img, (5, 4), interpolation=flag))


def test_resize_keep_ratio_and_divisor_literal_sizes():
    img = np.zeros((30, 70, 3), np.float32)
    assert T.Resize((35, 35), keep_ratio=True)({"img": img})["img"].shape == (15, 35, 3)
    assert T.Resize((35, 35), keep_ratio=True, size_divisor=4)({"img": img})["img"].shape == (16, 36, 3)
    assert T.Resize((33, 17), size_divisor=16)({"img": img})["img"].shape == (32, 48, 3)
    assert T.Resize((32, 16), size_divisor=16)({"img": img})["img"].shape == (16, 32, 3)  # already multiples
    assert T.Resize((33, 17))({"img": img})["img"].shape == (17, 33, 3)


def test_resize_by_long_and_short_literals():
    sample = literal_sample()
    out = T.ResizeByLong(2)(sample)
    np.testing.assert_array_equal(out["label"], [[6, 8], [14, 16]])
    np.testing.assert_allclose(out["img"][:, :, 0], [[35, 55], [115, 135]])
    np.testing.assert_array_equal(out["fov"], [[1, 0], [1, 0]])
    assert out["trans_info"] == [("resize", (4, 4))]
    out = T.ResizeByShort(2)(sample)
    np.testing.assert_array_equal(out["label"], [[6, 8], [14, 16]])
    np.testing.assert_allclose(out["img"][:, :, 0], [[35, 55], [115, 135]])
    assert out["trans_info"] == [("resize", (4, 4))]
    wide = {"img": np.zeros((10, 30, 3), np.float32)}
    assert T.ResizeByShort(20, max_size=45)(wide)["img"].shape == (15, 45, 3)
    assert T.ResizeByShort(20, max_size=60)(wide)["img"].shape == (20, 60, 3)
    assert T.ResizeByShort(20)(wide)["img"].shape == (20, 60, 3)
    assert T.ResizeByLong(15)(wide)["img"].shape == (5, 15, 3)
    assert T.ResizeByShort(20, max_size=45).max_size == 45.0 and T.ResizeByShort(20).max_size == 1e10


def test_resize_step_scaling_literals():
    sample = literal_sample()
    out = T.ResizeStepScaling(0.5, 0.5)(sample)
    np.testing.assert_array_equal(out["label"], [[6, 8], [14, 16]])
    np.testing.assert_allclose(out["img"][:, :, 0], [[35, 55], [115, 135]])
    np.testing.assert_array_equal(out["fov"], [[1, 0], [1, 0]])
    assert out["trans_info"] == []
    up = T.ResizeStepScaling(2.0, 2.0)(sample)
    np.testing.assert_array_equal(up["label"], np.kron(sample["label"], np.ones((2, 2), np.int64)))
    tiny = {"img": np.ones((1, 3, 3), np.float32)}
    assert T.ResizeStepScaling(0.4, 0.4)(tiny)["img"].shape == (1, 1, 3)  # sides never drop to 0
    # Step 0: uniform(min, max); np.random.seed(0) draws 1.2037 in (0.6, 1.7): 20 x 30 -> 24 x 36.
    np.random.seed(0)
    assert T.ResizeStepScaling(0.6, 1.7, 0)({"img": np.zeros((20, 30, 3), np.float32)})["img"].shape == (24, 36, 3)
    op = T.ResizeStepScaling()
    assert (op.min_scale_factor, op.max_scale_factor, op.scale_step_size) == (0.75, 1.25, 0.25)


def test_resize_step_scaling_candidates_include_both_ends():
    op, seen = T.ResizeStepScaling(0.5, 1.5, 0.5), set()
    np.random.seed(0)
    for _ in range(60):
        seen.add(op({"img": np.zeros((4, 4, 1), np.float32)})["img"].shape[0])
    assert seen == {2, 4, 6}


def test_padding_literal_and_custom_values():
    sample = literal_sample()
    out = T.Padding(5, im_padding_value=1, label_padding_value=7)(sample)
    assert out["img"].shape == (5, 5, 3)
    np.testing.assert_array_equal(out["label"], [[1, 2, 3, 4, 7], [5, 6, 7, 8, 7], [9, 10, 11, 12, 7],
                                                 [13, 14, 15, 16, 7], [7, 7, 7, 7, 7]])
    np.testing.assert_array_equal(out["fov"][4], [0] * 5)
    np.testing.assert_array_equal(out["fov"][:, 4], [0] * 5)
    np.testing.assert_array_equal(out["img"][4], np.ones((5, 3)))
    assert out["trans_info"] == [("padding", (4, 4))]
    same = T.Padding((4, 4))(sample)  # exactly the target: nothing added, still recorded
    np.testing.assert_array_equal(same["label"], sample["label"])
    assert same["trans_info"] == [("padding", (4, 4))]
    with pytest.raises(UserError, match=r"Padding: the image is 4x4 \(HxW\), larger than target_size \[4, 3\]"):
        T.Padding((4, 3))(sample)
    with pytest.raises(UserError, match=r"larger than target_size \[3, 4\]"):
        T.Padding((3, 4))(sample)
    default = T.Padding(6)(sample)
    assert default["img"][5, 5, 0] == 127.5 and default["label"][5, 5] == 255 and default["fov"][5, 5] == 0


def test_random_padding_crop_pads_height_and_crops_width_literal():
    sample = literal_sample()
    np.random.seed(4)
    top, left = np.random.randint(1), np.random.randint(4 - 2 + 1)
    np.random.seed(4)
    out = T.RandomPaddingCrop([2, 6], im_padding_value=3, label_padding_value=9)(sample)
    assert top == 0 and out["img"].shape == (6, 2, 3)
    np.testing.assert_array_equal(out["label"][:4], sample["label"][:, left:left + 2])
    np.testing.assert_array_equal(out["label"][4:], [[9, 9], [9, 9]])
    np.testing.assert_array_equal(out["fov"][4:], [[0, 0], [0, 0]])
    np.testing.assert_array_equal(out["img"][4:], np.full((2, 2, 3), 3.0))
    op = T.RandomPaddingCrop()
    assert (op.crop_size, op.im_padding_value, op.label_padding_value) == ((512, 512), 127.5, 255)
    assert (op.category_max_ratio, op.ignore_index, op.loop_times) == (1.0, 255, 10)


def test_random_padding_crop_exact_size_returns_a_new_dict():
    sample = literal_sample()
    out = T.RandomPaddingCrop([4, 4])(sample)
    assert out is not sample and out["label"] is sample["label"]
    out["img"] = None
    assert sample["img"] is not None


def balance_sample():
    label = np.zeros((8, 8), np.int64)
    label[:, 6:] = 1  # class 1 only in the two right columns
    label[0, 0] = 255
    return {"img": np.zeros((8, 8, 3), np.float32), "label": label, "gt_fields": ["label"]}


def crop_draws(seed, n, margin_h, margin_w):
    np.random.seed(seed)
    return [(np.random.randint(margin_h + 1), np.random.randint(margin_w + 1)) for _ in range(n)]


def test_random_padding_crop_balance_keeps_first_balanced_or_last_draw():
    sample = balance_sample()
    op = T.RandomPaddingCrop([4, 4], category_max_ratio=0.8, loop_times=6)
    draws = crop_draws(0, 6, 4, 4)
    # A 4x4 window is balanced (2 classes, largest share < 0.8) only when it includes column 6,
    # i.e. left == 3 (4 of 16 pixels are 1) or left == 4 (8 of 16).
    first = next(i for i, (_, left) in enumerate(draws) if left >= 3)
    np.random.seed(0)
    out = op(sample)["label"]
    top, left = draws[first]
    np.testing.assert_array_equal(out, sample["label"][top:top + 4, left:left + 4])
    # It stopped drawing at the first balanced window.
    np.random.seed(0)
    crop_draws(0, first + 1, 4, 4)
    state = np_state()
    np.random.seed(0)
    op(sample)
    assert np_state() == state
    # Never balanced (a single-class label): loop_times draws, the last one kept.
    flat = dict(sample, label=np.zeros((8, 8), np.int64))
    flat["img"] = rgb_image(8, 8)
    np.random.seed(0)
    out = op(flat)["img"]
    top, left = draws[-1]
    np.testing.assert_array_equal(out, flat["img"][top:top + 4, left:left + 4])


def test_random_padding_crop_balance_ignores_ignore_index_and_needs_label_field():
    label = np.full((8, 8), 7, np.int64)
    label[:, 4:] = 1
    label[:4, :] = 0  # top half class 0, bottom half split 7 / 1
    sample = {"img": rgb_image(8, 8), "label": label, "gt_fields": ["label"]}
    # With ignore_index 7 a bottom window holds only class 1 (and 7s): unbalanced, so the draws go on.
    op = T.RandomPaddingCrop([4, 2], category_max_ratio=0.99, ignore_index=7, loop_times=50)
    for seed in range(4):
        np.random.seed(seed)
        crop = op(sample)["label"]
        kept = crop[crop != 7]
        assert len(np.unique(kept)) == 2, crop
    # Without 'label' in gt_fields the retry is off: one draw, as with category_max_ratio 1.
    np.random.seed(0)
    draws = crop_draws(0, 1, 6, 4)
    np.random.seed(0)
    out = op(dict(sample, gt_fields=[]))["img"]
    top, left = draws[0]
    np.testing.assert_array_equal(out, sample["img"][top:top + 2, left:left + 4])


def test_random_padding_crop_ratio_one_draws_once_even_with_a_label():
    sample = balance_sample()
    sample["label"] = np.zeros((8, 8), np.int64)  # never balanced
    crop_draws(0, 1, 4, 4)
    state = np_state()
    np.random.seed(0)
    T.RandomPaddingCrop([4, 4], loop_times=5)(sample)
    assert np_state() == state


def test_random_padding_crop_share_must_be_strictly_below_ratio():
    label = np.zeros((4, 8), np.int64)
    label[:, 4:] = 1
    sample = {"img": rgb_image(4, 8), "label": label, "gt_fields": ["label"]}
    # Windows left = 0..4; shares of the largest class: 1, 0.75, 0.5, 0.75, 1.
    op = T.RandomPaddingCrop([4, 4], category_max_ratio=0.75, loop_times=200)
    for seed in range(6):
        np.random.seed(seed)
        crop = op(sample)["label"]
        np.testing.assert_array_equal(crop, label[:, 2:6])  # only l=2 has a share (0.5) < 0.75


# ----------------------------------------------------------------------------- random draws

def test_flip_probabilities():
    sample = literal_sample()
    assert T.RandomHorizontalFlip().prob == 0.5 and T.RandomVerticalFlip().prob == 0.1
    random.seed(0)  # random.random(): 0.8444, 0.7580, 0.420571580830845, 0.2589
    op = T.RandomVerticalFlip(0.420571580830845)  # equal to the draw: no flip
    flips = [op(sample)["label"][0, 0] == 13 for _ in range(4)]
    assert flips == [False, False, False, True]
    random.seed(0)
    op = T.RandomHorizontalFlip(0.4206)
    flips = [op(sample)["fov"][0, 0] == 0 for _ in range(4)]
    assert flips == [False, False, True, True]
    out = T.RandomHorizontalFlip(0.0)(sample)
    assert out is not sample


def rotation_reference(sample, angle, im_fill, label_fill):
    """PaddleSeg's rotation written with plain OpenCV calls."""
    h, w = sample["img"].shape[:2]
    matrix = cv2.getRotationMatrix2D((w // 2, h // 2), angle, 1.0)
    cos, sin = abs(np.cos(np.deg2rad(angle))), abs(np.sin(np.deg2rad(angle)))
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    matrix[0, 2] += nw / 2 - w // 2
    matrix[1, 2] += nh / 2 - h // 2
    img = cv2.warpAffine(sample["img"], matrix, (nw, nh), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(im_fill,) * 3)
    label = cv2.warpAffine(sample["label"].astype(np.float64), matrix, (nw, nh), flags=cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=label_fill)
    fov = cv2.warpAffine(sample["fov"], matrix, (nw, nh), flags=cv2.INTER_NEAREST,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return img, label.astype(np.int64), fov


def test_rotation_matches_opencv_reference():
    sample = encoded_sample(h=20, w=26)
    np.random.seed(3)  # uniform(-30, 30) -> 3.0479 degrees
    out = T.RandomRotation(30, im_padding_value=10, label_padding_value=99)(sample)
    img, label, fov = rotation_reference(sample, 3.0478741544745276, 10, 99)
    np.testing.assert_allclose(out["img"], img, atol=1e-3)
    np.testing.assert_array_equal(out["label"], label)
    np.testing.assert_array_equal(out["fov"], fov)
    assert out["img"].shape == (21, 27, 3) and np.any(label == 99) and np.any(out["img"] == 10)
    assert out["label"].dtype == np.int64 and out["fov"].dtype == np.uint8
    default = T.RandomRotation()
    assert (default.max_rotation, default.im_padding_value, default.label_padding_value) == (15, 127.5, 255)


def test_rotation_below_one_degree_still_rotates():
    sample = encoded_sample(h=20, w=26)
    np.random.seed(3)
    angle = np.random.uniform(-0.5, 0.5)
    np.random.seed(3)
    out = T.RandomRotation(0.5)(sample)
    img, label, _ = rotation_reference(sample, angle, 127.5, 255)
    assert abs(angle) > 0.04 and not np.allclose(img, sample["img"])
    np.testing.assert_allclose(out["img"], img, atol=1e-3)
    np.testing.assert_array_equal(out["label"], label)


def test_rotation_zero_draws_nothing():
    np.random.seed(1)
    state = np_state()
    out = T.RandomRotation(0)(literal_sample())
    assert np_state() == state
    np.testing.assert_array_equal(out["img"], literal_sample()["img"])


def elastic_reference(sample, sigma, grid_size, im_fill, label_fill, seed):
    """The documented elastic algorithm with plain numpy/OpenCV calls, drawing like the op."""
    np.random.seed(seed)
    np.random.uniform()
    disp = np.random.normal(0.0, sigma, (2, grid_size, grid_size)).astype(np.float32)
    h, w = sample["img"].shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x = xs + cv2.resize(disp[0], (w, h), interpolation=cv2.INTER_CUBIC)
    map_y = ys + cv2.resize(disp[1], (w, h), interpolation=cv2.INTER_CUBIC)
    img = cv2.remap(sample["img"], map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                    borderValue=(im_fill,) * 3)
    label = cv2.remap(sample["label"].astype(np.float64), map_x, map_y, cv2.INTER_NEAREST,
                      borderMode=cv2.BORDER_CONSTANT, borderValue=label_fill)
    fov = cv2.remap(sample["fov"], map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return img, label.astype(np.int64), fov


def test_elastic_matches_reference_and_probability():
    sample = encoded_sample(h=24, w=20)
    op = T.RandomElasticDeformation(sigma=5.0, grid_size=4, prob=0.42, im_padding_value=3, label_padding_value=77)
    np.random.seed(1)  # uniform() = 0.417 < 0.42: deform
    out = op(sample)
    img, label, fov = elastic_reference(sample, 5.0, 4, 3, 77, seed=1)
    np.testing.assert_allclose(out["img"], img, atol=1e-3)
    np.testing.assert_array_equal(out["label"], label)
    np.testing.assert_array_equal(out["fov"], fov)
    assert np.any(label == 77) and np.any(out["img"] == 3)
    np.random.seed(1)
    skipped = T.RandomElasticDeformation(sigma=5.0, prob=0.417022004702574)(sample)  # uniform() == prob: skip
    np.testing.assert_array_equal(skipped["label"], sample["label"])
    default = T.RandomElasticDeformation()
    assert (default.sigma, default.grid_size, default.prob) == (10.0, 3, 0.5)
    assert (default.im_padding_value, default.label_padding_value) == (127.5, 255)


# ----------------------------------------------------------------------------- photometric ops

def test_random_distort_defaults_and_single_op():
    op = T.RandomDistort()
    assert op.ranges == {"brightness": 0.5, "contrast": 0.5, "saturation": 0.5, "sharpness": 0.5, "hue": 18}
    assert op.probs == {"brightness": 0.5, "contrast": 0.5, "saturation": 0.5, "sharpness": 0.0, "hue": 0.5}
    only_brightness = T.RandomDistort(brightness_range=0.25, brightness_prob=1, contrast_prob=0,
                                      saturation_prob=0, hue_prob=0)
    img = np.array([[[100, 50, 200], [10, 10, 10]]], np.float32)
    seed_all(0)
    random.shuffle(list(range(5)))
    factor = np.random.uniform(0.75, 1.25)
    seed_all(0)
    out = only_brightness({"img": img})["img"]
    np.testing.assert_array_equal(out, np.floor(np.clip(img * np.float32(factor), 0, 255)))


def test_random_distort_without_ops_only_rounds_and_clips():
    op = T.RandomDistort(brightness_prob=0, contrast_prob=0, saturation_prob=0, hue_prob=0)
    img = np.array([[-3.0, 2.5, 254.6, 300.0]], np.float32)  # an HW image
    out = op({"img": img})["img"]
    assert out.shape == (1, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 2, 255, 255]])


def test_random_distort_hw_image_matches_hw1():
    op = T.RandomDistort(brightness_prob=1, contrast_prob=1, saturation_prob=1, sharpness_prob=1)
    img = rgb_image()[:, :, 0]
    seed_all(4)
    out = op({"img": img})["img"]
    seed_all(4)
    ref = op({"img": img[:, :, None]})["img"]
    assert out.shape == img.shape
    np.testing.assert_array_equal(out, ref[:, :, 0])
    assert not np.array_equal(out, img)


def test_random_distort_op_runs_only_when_draw_is_below_prob():
    pytest.importorskip("PIL")
    # After seed_all(0) the first probability draw is 0.5488135039273248: with every prob equal to it the
    # first op in the shuffled order is skipped.
    u = 0.5488135039273248
    op = T.RandomDistort(brightness_prob=u, contrast_prob=u, saturation_prob=u, hue_prob=u, sharpness_prob=u)
    img = rgb_image(seed=3)
    seed_all(0)
    ref = paddleseg_distort_reference(img, op)
    seed_all(0)
    np.testing.assert_array_equal(op({"img": img})["img"], ref)


def test_random_distort_single_channel_never_draws_hue():
    op = T.RandomDistort(brightness_prob=0, contrast_prob=0, saturation_prob=0, hue_prob=1, hue_range=100)
    img = rgb_image()[:, :, :1]
    seed_all(0)
    out = op({"img": img})["img"]
    np.testing.assert_array_equal(out, img)
    # Four ops shuffled, four probability draws, no factor draw.
    seed_all(0)
    random.shuffle(list(range(4)))
    np.random.uniform(0, 1, 4)
    state = np_state()
    seed_all(0)
    op({"img": img})
    assert np_state() == state


def test_normalize_literals_and_shapes():
    img = np.array([[0.0, 51.0, 255.0]], np.float32)  # HW
    out = T.Normalize(mean=0.2, std=0.4)({"img": img})["img"]
    np.testing.assert_allclose(out, [[-0.5, 0.0, 2.0]], atol=1e-6)
    assert out.shape == (1, 3) and out.dtype == np.float32
    rgb = np.array([[[255, 255, 255]]], np.float32)
    np.testing.assert_allclose(T.Normalize([0.5, 0.25, 0.0], [0.5, 0.25, 2.0])({"img": rgb})["img"],
                               [[[1.0, 3.0, 0.5]]], atol=1e-6)
    with pytest.raises(UserError, match="Normalize: std has 2 values but the image has 3 channels; give 1 or 3"):
        T.Normalize(std=[0.5, 0.5])({"img": rgb})
    with pytest.raises(ValueError, match="Normalize: mean must not be empty"):
        T.Normalize(mean=[])
    with pytest.raises(TypeError, match="Normalize: std must be a number"):
        T.Normalize(std=[0.5, None])


def test_green_channel_literal_and_errors():
    img = np.array([[[1, 2, 3], [4, 5, 6]]], np.float32)
    out = T.GreenChannel()({"img": img, "label": np.zeros((1, 2))})
    np.testing.assert_array_equal(out["img"], [[[2, 2, 2], [5, 5, 5]]])
    out["img"][0, 0, 0] = -1
    assert img[0, 0, 1] == 2
    with pytest.raises(UserError, match=r"GreenChannel: needs a 3-channel image, got shape \(1, 2\)"):
        T.GreenChannel()({"img": img[:, :, 0]})


def test_clahe_op_matches_opencv_and_shapes():
    rng = np.random.default_rng(3)
    gray = (90 + rng.integers(0, 40, (16, 16))).astype(np.float32)
    ref = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(4, 4)).apply(gray.astype(np.uint8))
    out = T.CLAHE(clip_limit=3.0, tile_grid_size=4)({"img": gray})["img"]  # an HW image
    assert out.shape == (16, 16) and out.dtype == np.float32
    np.testing.assert_array_equal(out, ref)
    default = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray.astype(np.uint8))
    np.testing.assert_array_equal(T.CLAHE()({"img": gray[:, :, None]})["img"][:, :, 0], default)
    with pytest.raises(UserError, match=r"CLAHE: needs a 1- or 3-channel image, got shape \(16, 16, 2\)"):
        T.CLAHE()({"img": np.zeros((16, 16, 2), np.float32)})


# ----------------------------------------------------------------------------- argument checks

class Whole(str):
    """A complete expected message, compared with ==; a plain str entry is a prefix of the message."""


MESSAGES = [
    (lambda: T.RandomRotation(-5), ValueError, Whole("RandomRotation: max_rotation must be >= 0, got -5")),
    (lambda: T.RandomPaddingCrop(category_max_ratio=1.5), ValueError,
     Whole("RandomPaddingCrop: category_max_ratio must be in (0, 1.0], got 1.5")),
    (lambda: T.RandomHorizontalFlip(1.01), ValueError,
     Whole("RandomHorizontalFlip: prob must be in [0.0, 1.0], got 1.01")),
    (lambda: T.CLAHE(clip_limit=-1), ValueError, Whole("CLAHE: clip_limit must be > 0, got -1")),
    (lambda: T.RandomRotation(True), TypeError, Whole("RandomRotation: max_rotation must be a number, got True")),
    (lambda: T.RandomRotation("5"), TypeError, Whole("RandomRotation: max_rotation must be a number, got '5'")),
    (lambda: T.ResizeByLong(True), TypeError, Whole("ResizeByLong: long_size must be an integer, got True")),
    (lambda: T.ResizeByLong(-3), ValueError, Whole("ResizeByLong: long_size must be >= 1, got -3")),
    (lambda: T.Resize(512), TypeError,
     Whole("Resize: target_size must be a list [width, height] of integers >= 1, got 512")),
    (lambda: T.Resize([1, 2, 3]), ValueError,
     Whole("Resize: target_size must be a list of 2 items [width, height], got [1, 2, 3]")),
    (lambda: T.Resize(interp="BILINEAR"), ValueError,
     Whole("Resize: interp must be one of NEAREST, LINEAR, CUBIC, AREA, LANCZOS4, RANDOM, got 'BILINEAR'")),
    (lambda: T.Resize(size_divisor=2.0), TypeError, "Resize: size_divisor must be an integer"),
    (lambda: T.ResizeStepScaling(2.0, 0.5), ValueError,
     "ResizeStepScaling: min_scale_factor (2.0) must not exceed max_scale_factor (0.5)."),
    (lambda: T.ResizeStepScaling(0, 1.0), ValueError, Whole("ResizeStepScaling: min_scale_factor must be > 0, got 0")),
    (lambda: T.ResizeStepScaling(0.5, 0), ValueError, Whole("ResizeStepScaling: max_scale_factor must be > 0, got 0")),
    (lambda: T.ResizeByShort(10, max_size=0), ValueError, Whole("ResizeByShort: max_size must be > 0, got 0")),
    (lambda: T.RandomPaddingCrop(ignore_index=2.0), TypeError,
     Whole("RandomPaddingCrop: ignore_index must be an integer, got 2.0")),
    (lambda: T.RandomPaddingCrop(im_padding_value=None), TypeError, "RandomPaddingCrop: im_padding_value"),
    (lambda: T.RandomPaddingCrop(label_padding_value="a"), TypeError, "RandomPaddingCrop: label_padding_value"),
    (lambda: T.Padding(8, im_padding_value="a"), TypeError, "Padding: im_padding_value"),
    (lambda: T.Padding(8, label_padding_value="a"), TypeError, "Padding: label_padding_value"),
    (lambda: T.Padding(True), TypeError, "Padding: target_size must be a list"),
    (lambda: T.RandomRotation(im_padding_value="a"), TypeError, "RandomRotation: im_padding_value"),
    (lambda: T.RandomRotation(label_padding_value="a"), TypeError, "RandomRotation: label_padding_value"),
    (lambda: T.RandomElasticDeformation(sigma=-1), ValueError,
     Whole("RandomElasticDeformation: sigma must be >= 0, got -1")),
    (lambda: T.RandomElasticDeformation(grid_size=1), ValueError,
     Whole("RandomElasticDeformation: grid_size must be >= 2, got 1")),
    (lambda: T.RandomElasticDeformation(grid_size=2.5), TypeError, "RandomElasticDeformation: grid_size"),
    (lambda: T.RandomElasticDeformation(im_padding_value="a"), TypeError, "RandomElasticDeformation: im_padding"),
    (lambda: T.RandomElasticDeformation(label_padding_value="a"), TypeError, "RandomElasticDeformation: label_pad"),
    (lambda: T.CLAHE(tile_grid_size=0), ValueError, Whole("CLAHE: tile_grid_size must be >= 1, got 0")),
    (lambda: T.RandomDistort(sharpness_prob=-0.5), ValueError, "RandomDistort: sharpness_prob must be in [0.0, 1.0]"),
    (lambda: T.RandomDistort(contrast_range="x"), TypeError, "RandomDistort: contrast_range must be a number"),
    (lambda: T.RandomDistort(saturation_prob=1.1), ValueError, "RandomDistort: saturation_prob"),
    (lambda: T.RandomDistort(hue_range=-1), ValueError, "RandomDistort: hue_range"),
    (lambda: T.Compose([], img_channels=True), ValueError,
     Whole("Compose: img_channels must be one of 1, 3, got True")),
    (lambda: T.Compose((T.Normalize(), 3)), TypeError,
     "Compose: transforms[1] is a int, not a transform; give each item a `type:` key."),
    (lambda: T.Compose("Normalize"), TypeError, "Compose: transforms must be a list of transforms, got str."),
    (lambda: T.ResizeStepScaling(0.5, 1.0, -0.25), ValueError,
     Whole("ResizeStepScaling: scale_step_size must be >= 0, got -0.25")),
    (lambda: T.RandomPaddingCrop(loop_times=0), ValueError, Whole("RandomPaddingCrop: loop_times must be >= 1, got 0")),
    (lambda: T.Normalize(std=[0.5, 0]), ValueError, "Normalize: std must not contain 0, got [0.5, 0]."),
    (lambda: T.Normalize(mean=()), ValueError, "Normalize: mean must not be empty."),
]


@pytest.mark.parametrize("factory,exc,message", MESSAGES)
def test_argument_errors_have_exact_messages(factory, exc, message):
    with pytest.raises(exc) as info:
        factory()
    if isinstance(message, Whole):
        assert str(info.value) == message
    else:
        assert str(info.value).startswith(message)


RUNTIME_ERRORS = [
    (lambda: T.Padding((4, 3))(literal_sample()), UserError,
     "Padding: the image is 4x4 (HxW), larger than target_size [4, 3] ([width, height]); raise target_size or "
     "resize first."),
    (lambda: T.GreenChannel()({"img": np.zeros((2, 2, 1))}), UserError,
     "GreenChannel: needs a 3-channel image, got shape (2, 2, 1); remove it or set img_channels: 3."),
    (lambda: T.CLAHE()({"img": np.zeros((2, 2, 4))}), UserError,
     "CLAHE: needs a 1- or 3-channel image, got shape (2, 2, 4)."),
    (lambda: T.Normalize(mean=[0.1, 0.2])({"img": np.zeros((2, 3))}), UserError,
     "Normalize: mean has 2 values but the image has 1 channels; give 1 or 1 values."),
    (lambda: T.Compose([])({"label": np.zeros((4, 5))}), ValueError, "Compose: the sample dict has no 'img' key."),
    (lambda: T.Compose([])({"img": [[1]]}), TypeError, "Compose: 'img' must be a file path or a numpy array, got list."),
    (lambda: T.Compose([], img_channels=1)({"img": np.zeros((4, 5, 3))}), ValueError,
     "Compose: the input image array has shape (4, 5, 3) but img_channels is 1; pass an HxWx1 array or set "
     "img_channels."),
    (lambda: T.Compose([])({"img": np.zeros((4, 5, 3)), "gt_fields": ["fov"]}), ValueError,
     "Compose: gt_fields names 'fov' but the sample has no 'fov'."),
    (lambda: T.Compose([])({"img": np.zeros((4, 5, 3)), "label": np.zeros((4, 5, 2)), "gt_fields": ["label"]}),
     ValueError, "Compose: 'label' must be an HxW array, got shape (4, 5, 2)."),
    (lambda: T.Compose([])({"img": np.zeros((4, 5, 3)), "fov": 3, "gt_fields": ["fov"]}), TypeError,
     "Compose: 'fov' must be a file path or a numpy array, got int."),
    (lambda: T.Compose([])({"img": np.zeros((4, 5, 3)), "label": np.zeros((3, 4))}), UserError,
     "size mismatch: label '(array)' is 4x3 (WxH) but its image '(array)' is 5x4; they must be the same size "
     "(fix the file or its list line)"),
]


@pytest.mark.parametrize("call,exc,message", RUNTIME_ERRORS)
def test_runtime_errors_have_exact_messages(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value) == message


def test_size_mismatch_message_names_both_files(tmp_path):
    write_sample_files(tmp_path)
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((5, 6), np.uint8))
    img, label = str(tmp_path / "img.png"), str(tmp_path / "small.png")
    with pytest.raises(UserError) as info:
        T.Compose([])({"img": img, "label": label, "gt_fields": ["label"]})
    assert str(info.value) == ("size mismatch: label '{}' is 6x5 (WxH) but its image '{}' is 24x20; they must be "
                               "the same size (fix the file or its list line)".format(label, img))


def test_boundary_values_are_accepted():
    assert T.RandomHorizontalFlip(1).prob == 1.0 and T.RandomVerticalFlip(0).prob == 0.0
    assert T.RandomPaddingCrop(category_max_ratio=1).category_max_ratio == 1.0
    assert T.ResizeStepScaling(0.5, 0.5, 0).scale_step_size == 0.0
    assert T.RandomRotation(0).max_rotation == 0.0 and T.RandomElasticDeformation(sigma=0).sigma == 0.0
    assert T.RandomElasticDeformation(grid_size=2).grid_size == 2
    assert T.Resize(size_divisor=1).size_divisor == 1 and T.Resize().target_size == (512, 512)
    assert T.Resize(interp="RANDOM").interp == "RANDOM" and T.Resize().keep_ratio is False
    assert T.CLAHE().clip_limit == 2.0 and T.CLAHE().tile_grid_size == 8
    assert T.RandomPaddingCrop(ignore_index=-1).ignore_index == -1
    assert T.Compose([], to_rgb=0).to_rgb is False and T.Compose([], img_channels=1).img_channels == 1


# ----------------------------------------------------------------------------- Compose with arrays

def test_compose_array_inputs_and_outputs():
    img = np.arange(6, dtype=np.uint8).reshape(2, 3)
    label = np.array([[[1], [2], [3]], [[4], [5], [6]]], np.uint8)  # HW1 is squeezed
    out = T.Compose([T.RandomHorizontalFlip(1.0)], img_channels=1)(
        {"img": img, "label": label, "fov": np.ones((2, 3), np.int64), "gt_fields": ("label", "fov")})
    assert out["img"].shape == (1, 2, 3) and out["img"].dtype == np.float32
    np.testing.assert_array_equal(out["img"][0], img[:, ::-1])
    np.testing.assert_array_equal(out["label"], [[3, 2, 1], [6, 5, 4]])
    assert out["label"].dtype == np.int64 and out["fov"].dtype == np.uint8
    assert out["gt_fields"] == ["label", "fov"] and out["trans_info"] == []
    assert out["img"].flags.c_contiguous


def test_compose_array_errors():
    img = rgb_image(4, 5)
    with pytest.raises(ValueError, match="Compose: the sample dict has no 'img' key."):
        T.Compose([])({"label": np.zeros((4, 5))})
    with pytest.raises(TypeError, match="Compose: 'img' must be a file path or a numpy array, got list."):
        T.Compose([])({"img": [[1]]})
    with pytest.raises(ValueError, match=r"input image array has shape \(4, 5, 3\) but img_channels is 1; "
                                         r"pass an HxWx1 array"):
        T.Compose([], img_channels=1)({"img": img})
    with pytest.raises(ValueError, match=r"Compose: 'label' must be an HxW array, got shape \(4, 5, 2\)"):
        T.Compose([])({"img": img, "label": np.zeros((4, 5, 2)), "gt_fields": ["label"]})
    with pytest.raises(TypeError, match="Compose: 'fov' must be a file path or a numpy array, got int."):
        T.Compose([])({"img": img, "fov": 3, "gt_fields": ["fov"]})
    with pytest.raises(UserError, match=r"^size mismatch: label '\(array\)' is 4x4 \(WxH\) but its image "
                                        r"'\(array\)' is 5x4; they must be the same size \(fix the file or its "
                                        r"list line\)$"):
        T.Compose([])({"img": img, "label": np.zeros((4, 4)), "gt_fields": ["label"]})


def test_compose_binarises_fov_file_and_keeps_trans_info(tmp_path):
    fov = np.array([[0, 1, 200], [255, 0, 3]], np.uint8)
    cv2.imwrite(str(tmp_path / "fov.png"), fov)
    cv2.imwrite(str(tmp_path / "mask.png"), fov)
    info = [("resize", (9, 9))]
    out = T.Compose([T.Padding((3, 3))])({"img": rgb_image(2, 3), "fov": str(tmp_path / "fov.png"),
                                          "mask": str(tmp_path / "mask.png"), "gt_fields": ["fov", "mask"],
                                          "trans_info": info})
    np.testing.assert_array_equal(out["fov"], [[0, 1, 1], [1, 0, 1], [0, 0, 0]])
    np.testing.assert_array_equal(out["mask"], [[0, 1, 200], [255, 0, 3], [0, 0, 0]])  # raw ids, 0 fill
    assert out["mask"].dtype == np.int64
    assert out["trans_info"] == [("resize", (9, 9)), ("padding", (2, 3))] and info == [("resize", (9, 9))]


def test_compose_ops_see_float32_images_and_uint8_fov(tmp_path):
    cv2.imwrite(str(tmp_path / "fov.png"), np.array([[0, 255, 9]], np.uint8))
    seen = []

    def record(data):
        seen.append((data["img"].dtype, data["fov"].dtype, data["label"].dtype))
        return data
    T.Compose([record])({"img": np.zeros((1, 3, 3), np.uint8), "fov": str(tmp_path / "fov.png"),
                         "label": np.zeros((1, 3), np.int32), "gt_fields": ["fov"]})
    assert seen == [(np.float32, np.uint8, np.int32)]


def test_compose_output_is_chw_float32_whatever_the_ops_return():
    def to_float64(data):
        return dict(data, img=data["img"].astype(np.float64))

    def to_hw(data):
        return dict(data, img=data["img"][:, :, 0])
    img = rgb_image(2, 3)
    out = T.Compose([to_float64])({"img": img})["img"]
    assert out.dtype == np.float32 and out.shape == (3, 2, 3)
    out = T.Compose([to_hw])({"img": img})["img"]
    assert out.shape == (1, 2, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], img[:, :, 0])


def test_compose_gray_file_is_not_channel_swapped(tmp_path):
    cv2.imwrite(str(tmp_path / "g.png"), np.array([[7, 8]], np.uint8))
    out = T.Compose([], img_channels=1)({"img": str(tmp_path / "g.png")})
    np.testing.assert_array_equal(out["img"], [[[7, 8]]])
