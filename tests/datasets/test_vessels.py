"""DRIVE in its three layouts (file lists, original archive, flat folder), and the other vessel sets."""
import os

import cv2
import numpy as np
import pytest

from drive_files import make_drive_folder
from paddleseg_lite.cvlibs import manager
from paddleseg_lite.datasets import CHASEDB1, DRIVE, HRF, STARE
from paddleseg_lite.transforms import Resize
from paddleseg_lite.utils.errors import UserError


def _ids(ds):
    return [int(os.path.basename(s.img).split("_")[0]) for s in ds.file_list]


@pytest.fixture
def archive(tmp_path):
    root = str(tmp_path / "DRIVE")
    train = make_drive_folder(os.path.join(root, "training"), [21, 22, 23], "training", seed=1)
    test = make_drive_folder(os.path.join(root, "test"), [1, 2], "test", seed=2)
    return root, train, test


@pytest.fixture
def flat(tmp_path):
    root = str(tmp_path / "flat")
    return root, make_drive_folder(root, list(range(21, 31)), "training", seed=3)


def test_named_datasets_registered_with_paddleseg_constants():
    for cls, root in ((DRIVE, "data/DRIVE"), (STARE, "data/STARE"), (CHASEDB1, "data/CHASE_DB1"), (HRF, "data/HRF")):
        assert manager.DATASETS[cls.__name__] is cls
        assert (cls.NUM_CLASSES, cls.IGNORE_INDEX, cls.IMG_CHANNELS, cls.DEFAULT_ROOT) == (2, 255, 3, root)


def test_archive_train_maps_vessels_to_1_and_outside_fov_to_ignore(archive):
    root, train, _ = archive
    ds = DRIVE(root, mode="train")
    assert _ids(ds) == [21, 22, 23] and ds.num_classes == 2
    item = ds[1]
    _, vessels, fov = train[22]
    expected = np.where(fov == 0, 255, vessels // 255)
    assert np.array_equal(item["label"], expected)
    assert np.array_equal(item["fov"], fov // 255)
    assert item["img"].shape == (3, 32, 40)


def test_archive_image_is_rgb(archive):
    root, train, _ = archive
    bgr = train[21][0]
    assert np.array_equal(DRIVE(root, mode="train")[0]["img"].transpose(1, 2, 0), bgr[:, :, ::-1])


def test_archive_val_and_test_use_test_split(archive):
    root, _, test = archive
    val = DRIVE(root, mode="val", transforms=[Resize([20, 16])])
    assert _ids(val) == [1, 2]
    item = val[0]
    assert item["img"].shape == (3, 16, 20) and item["label"].shape == (1, 32, 40)
    assert item["fov"].shape == (1, 32, 40)
    assert _ids(DRIVE(root, mode="test")) == [1, 2]


def test_archive_test_mode_needs_no_labels(tmp_path):
    root = str(tmp_path / "DRIVE")
    make_drive_folder(os.path.join(root, "training"), [21], "training")
    make_drive_folder(os.path.join(root, "test"), [1], "test", labels=False)
    item = DRIVE(root, mode="test")[0]
    assert "label" not in item and item["fov"].shape == (32, 40)
    with pytest.raises(UserError, match="no test labels.*set `val_ids`"):
        DRIVE(root, mode="val")


def test_archive_val_ids_hold_out_training_images(archive):
    root = archive[0]
    assert _ids(DRIVE(root, mode="train", val_ids=[23])) == [21, 22]
    assert _ids(DRIVE(root, mode="val", val_ids=[23])) == [23]
    assert _ids(DRIVE(root, mode="test", val_ids=[23])) == [1, 2]


def test_flat_default_split_is_last_fifth(flat):
    root, _ = flat
    assert _ids(DRIVE(root, mode="train")) == list(range(21, 29))
    assert _ids(DRIVE(root, mode="val")) == [29, 30]
    assert _ids(DRIVE(root, mode="test")) == [29, 30]


def test_flat_val_ids_from_yaml_style_list(flat):
    root, _ = flat
    assert _ids(DRIVE(root, mode="val", val_ids=["22", 25])) == [22, 25]
    assert 22 not in _ids(DRIVE(root, mode="train", val_ids=[22, 25]))


def test_flat_unknown_val_ids(flat):
    with pytest.raises(ValueError, match=r"DRIVE: val_ids \[99\] not found"):
        DRIVE(flat[0], mode="val", val_ids=[99])
    with pytest.raises(ValueError, match="DRIVE: val_ids must be a list of image ids"):
        DRIVE(flat[0], val_ids=[[1]])


def test_flat_missing_label_or_mask(flat):
    root, _ = flat
    os.remove(os.path.join(root, "1st_manual", "24_manual1.gif"))
    with pytest.raises(UserError, match="24_manual1.gif' .*not found"):
        DRIVE(root, mode="train")
    assert len(DRIVE(root, mode="test")) == 2  # test mode does not need labels
    os.remove(os.path.join(root, "mask", "29_training_mask.gif"))
    with pytest.raises(UserError, match="29_training_mask"):
        DRIVE(root, mode="test")


def _file_list_root(tmp_path, with_fov):
    root = str(tmp_path / "release")
    for sub in ("images", "annotations", "masks"):
        os.makedirs(os.path.join(root, sub))
    rng = np.random.default_rng(0)
    lines = []
    for name in ("01", "02"):
        cv2.imwrite(os.path.join(root, "images", name + ".png"), rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
        cv2.imwrite(os.path.join(root, "annotations", name + ".png"), (rng.random((16, 16)) < 0.3).astype(np.uint8))
        line = "images/{0}.png annotations/{0}.png".format(name)
        if with_fov:
            fov = np.zeros((16, 16), np.uint8)
            fov[:, :8] = 255
            cv2.imwrite(os.path.join(root, "masks", name + ".png"), fov)
            line += " masks/{}.png".format(name)
        lines.append(line)
    for list_name, chosen in (("train_list.txt", lines[:1]), ("val_list.txt", lines[1:])):
        with open(os.path.join(root, list_name), "w") as f:
            f.write("\n".join(chosen) + "\n")
    return root


def test_file_list_layout_with_fov_column(tmp_path):
    root = _file_list_root(tmp_path, with_fov=True)
    item = DRIVE(root, mode="val")[0]
    assert item["fov"].shape == (1, 16, 16)
    assert set(np.unique(item["label"][0, :, 8:])) == {255}
    assert set(np.unique(item["label"][0, :, :8])) <= {0, 1}
    assert len(DRIVE(root, mode="test")) == 1  # test falls back to val_list.txt
    with pytest.raises(ValueError, match="val_ids applies to the original DRIVE images"):
        DRIVE(root, val_ids=[1])


@pytest.mark.parametrize("cls", [STARE, CHASEDB1, HRF])
def test_other_vessel_sets_read_release_lists(tmp_path, cls):
    root = _file_list_root(tmp_path, with_fov=False)
    ds = cls(dataset_root=root, mode="train")
    assert len(ds) == 1 and ds[0]["label"].shape == (16, 16) and "fov" not in ds[0]


def test_release_layout_missing_list(tmp_path):
    os.makedirs(str(tmp_path / "s"))
    with pytest.raises(UserError, match="STARE: dataset_root .* has neither train_list.txt"):
        STARE(dataset_root=str(tmp_path / "s"), mode="val")


def test_unrecognised_drive_root(tmp_path):
    with pytest.raises(UserError, match="has neither train_list.txt"):
        DRIVE(str(tmp_path), mode="train")


def test_missing_root_without_opt_in_does_not_hang(tmp_path, monkeypatch):
    monkeypatch.delenv("PADDLESEG_LITE_DOWNLOAD", raising=False)
    monkeypatch.setenv("CI", "1")
    missing = str(tmp_path / "data" / "DRIVE")
    with pytest.raises(UserError, match="DRIVE data not found at .*drive.zip.*prepare_dataset.py"):
        DRIVE(missing)
    assert not os.path.exists(missing)


def test_bad_mode_and_edge(archive):
    with pytest.raises(ValueError, match="DRIVE: mode must be one of"):
        DRIVE(archive[0], mode="eval")
    with pytest.raises(ValueError, match="DRIVE: edge=True"):
        DRIVE(archive[0], edge=True)
