"""SyntheticVessels: determinism, split seeds, value sets, val-mode rule, fundus-like content."""
import numpy as np
import pytest

from paddleseg_lite.cvlibs import manager
from paddleseg_lite.datasets import SyntheticVessels
from paddleseg_lite.transforms import RandomPaddingCrop, Resize


def test_registered_with_constants():
    assert manager.DATASETS["SyntheticVessels"] is SyntheticVessels
    ds = SyntheticVessels()
    assert (ds.num_classes, ds.ignore_index, ds.img_channels) == (2, 255, 3)


def test_default_counts_and_names():
    assert len(SyntheticVessels(mode="train")) == 24
    val = SyntheticVessels(mode="val", image_size=32)
    assert len(val) == 6 and val[3]["img_path"] == "synthetic_val_0003"


def test_deterministic_and_independent_of_call_order():
    a = SyntheticVessels(mode="train", image_size=48, num_samples=4)
    b = SyntheticVessels(mode="train", image_size=48, num_samples=4)
    first = a[2]
    for i in (3, 0, 1):
        b[i]
    second = b[2]
    assert np.array_equal(first["img"], second["img"]) and np.array_equal(first["label"], second["label"])
    assert not np.array_equal(a[0]["img"], a[1]["img"])


def test_train_val_and_seeds_differ():
    train = SyntheticVessels(mode="train", image_size=32, num_samples=2)[0]["img"]
    val = SyntheticVessels(mode="val", image_size=32, num_samples=2)[0]["img"]
    other_seed = SyntheticVessels(mode="train", image_size=32, num_samples=2, seed=1)[0]["img"]
    assert not np.array_equal(train, val) and not np.array_equal(train, other_seed)


def test_values_fov_and_shapes_in_train_mode():
    item = SyntheticVessels(mode="train", image_size=[64, 48], num_samples=1)[0]
    assert item["img"].shape == (3, 48, 64) and item["img"].dtype == np.float32
    label, fov = item["label"], item["fov"]
    assert label.shape == (48, 64) and label.dtype == np.int64 and fov.dtype == np.uint8
    assert set(np.unique(label)) == {0, 1, 255}
    assert np.array_equal(label == 255, fov == 0)
    assert fov[24, 32] == 1 and fov[0, 0] == 0
    vessel_share = (label == 1).sum() / (fov == 1).sum()
    assert 0.05 < vessel_share < 0.35


def test_fundus_like_colours_vessels_darker():
    ds = SyntheticVessels(mode="val", image_size=96, num_samples=3)
    for i in range(3):
        item = ds[i]
        img, label = item["img"], item["label"][0]
        background = img[:, label == 0].mean(axis=1)
        vessels = img[:, label == 1].mean(axis=1)
        assert background[0] > background[1] > background[2]  # reddish-orange
        assert vessels[1] < background[1] * 0.92
        assert img[:, label == 255].max() == 0  # black outside the FOV


def test_val_mode_keeps_label_at_original_size():
    item = SyntheticVessels(mode="val", image_size=40, num_samples=1, transforms=[Resize([20, 20])])[0]
    assert item["img"].shape == (3, 20, 20)
    assert item["label"].shape == (1, 40, 40) and item["fov"].shape == (1, 40, 40)
    assert item["trans_info"] == [("resize", (40, 40))]


def test_train_transforms_move_label_with_image():
    ds = SyntheticVessels(mode="train", image_size=40, num_samples=1, transforms=[RandomPaddingCrop([24, 24])])
    item = ds[0]
    assert item["img"].shape == (3, 24, 24) and item["label"].shape == (24, 24) and item["fov"].shape == (24, 24)


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_samples=0), "num_samples must be >= 1, got 0"),
    (dict(image_size=8), r"image_size must be a list \[width, height\] of integers >= 16"),
    (dict(image_size=[32, 32, 3]), "image_size must be"),
    (dict(seed=-1), "seed must be >= 0, got -1"),
    (dict(mode="dev"), "mode must be one of"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match="SyntheticVessels: " + match):
        SyntheticVessels(**kwargs)


def test_index_out_of_range():
    with pytest.raises(IndexError):
        SyntheticVessels(num_samples=2)[2]
