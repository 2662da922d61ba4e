"""`fov: auto` / a mask folder in the file-list and vessel datasets, the `fov` value check, and the
`--fov` defaults of val (datasets/fov.py, cli/fov.py). Images: synthetic fundus files with known FOV."""
import os

import cv2
import numpy as np
import pytest
import yaml

from paddleseg_lite.cli.fov import predict_fov, val_fov
from paddleseg_lite.cvlibs import Config, builder, manager
from paddleseg_lite.datasets import STARE, Dataset
from paddleseg_lite.datasets.fov import default_fov
from paddleseg_lite.utils.errors import UserError
from tool_runner import load_tool

WRITE_DATASET = load_tool("make_synthetic_data").write_dataset


@pytest.fixture
def fundus(tmp_path):
    """Synthetic fundus files: images/, labels/ (0/1), masks/ (the true FOV, 0/255), and list files
    without the FOV column (list.txt) and with it (list_fov.txt)."""
    root = str(tmp_path / "data")
    WRITE_DATASET(root, 2, 40, "val", 0)
    lines = open(os.path.join(root, "val_list.txt")).read().split("\n")
    lines = [line for line in lines if line]
    with open(os.path.join(root, "list.txt"), "w") as f:
        f.write("\n".join(" ".join(line.split()[:2]) for line in lines) + "\n")
    os.rename(os.path.join(root, "val_list.txt"), os.path.join(root, "list_fov.txt"))
    return root


def true_fov(root, i):
    return (cv2.imread(os.path.join(root, "masks", "synthetic_val_{:04d}.png".format(i)), 0) > 0).astype(np.uint8)


def vessels(root, i):
    return cv2.imread(os.path.join(root, "labels", "synthetic_val_{:04d}.png".format(i)), 0).astype(np.int64)


@pytest.mark.parametrize("mode", ["train", "val"])
def test_fov_auto_gives_ignore_outside_and_the_fov(fundus, mode):
    ds = Dataset(mode, fundus, None, 2, train_path="list.txt", val_path="list.txt", fov="auto")
    for i in range(2):
        item, fov = ds[i], true_fov(fundus, i)
        label, got = (item["label"][0], item["fov"][0]) if mode == "val" else (item["label"], item["fov"])
        np.testing.assert_array_equal(got, fov)  # the estimate is exact on these images
        np.testing.assert_array_equal(label, np.where(fov == 1, vessels(fundus, i), 255))
    plain = Dataset(mode, fundus, None, 2, train_path="list.txt", val_path="list.txt")[0]
    assert "fov" not in plain and 255 not in plain["label"]


def test_a_listed_mask_wins_over_auto(fundus):
    half = np.zeros((40, 40), np.uint8)
    half[:, :20] = 255
    cv2.imwrite(os.path.join(fundus, "masks", "synthetic_val_0000.png"), half)
    item = Dataset("train", fundus, None, 2, train_path="list_fov.txt", fov="auto")[0]
    np.testing.assert_array_equal(item["fov"], half // 255)
    assert set(np.unique(item["label"][:, 20:])) == {255}


def test_a_mask_folder_matched_by_stem(fundus):
    item = Dataset("val", fundus, None, 2, val_path="list.txt", fov=os.path.join(fundus, "masks"))[1]
    np.testing.assert_array_equal(item["fov"][0], true_fov(fundus, 1))
    os.remove(os.path.join(fundus, "masks", "synthetic_val_0001.png"))
    with pytest.raises(UserError, match=r"no FOV mask for image '.*synthetic_val_0001.png' \(1 of 2 images"):
        Dataset("val", fundus, None, 2, val_path="list.txt", fov=os.path.join(fundus, "masks"))


def test_vessel_dataset_fov_auto(fundus):
    os.rename(os.path.join(fundus, "list.txt"), os.path.join(fundus, "train_list.txt"))
    item = STARE(dataset_root=fundus, mode="train", fov="auto")[0]
    np.testing.assert_array_equal(item["fov"], true_fov(fundus, 0))


@pytest.mark.parametrize("value", ["yes", True, 1, "/no/such/folder"])
def test_a_bad_fov_value_is_one_user_error_naming_the_key(fundus, value):
    cfg = {"type": "Dataset", "mode": "val", "dataset_root": fundus, "val_path": "list.txt", "num_classes": 2,
           "transforms": [], "fov": value}
    with pytest.raises(UserError) as info:
        builder.build_component(cfg, "val_dataset", manager.DATASETS)
    assert str(info.value) == ("val_dataset.fov (Dataset) must be 'auto' (estimate each image's field of view), "
                               "null or none (only the masks listed with the samples) or an existing folder of masks, "
                               "got {!r}".format(value))


def write_config(tmp_path, dataset):
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump({"val_dataset": dataset, "model": {"type": "UNet", "base_channels": 4}}))
    return Config(str(path))


@pytest.mark.parametrize("dataset, flag, want_fov, masked", [
    ({"type": "STARE"}, None, "auto", True),                   # fundus: auto by default
    ({"type": "STARE"}, "none", None, False),
    ({"type": "STARE", "fov": None}, None, None, False),       # the config's key stays
    ({"type": "Dataset"}, None, None, False),                   # not fundus: none by default
    ({"type": "Dataset"}, "auto", "auto", True),
    ({"type": "Dataset", "fov": "auto"}, None, "auto", True),
    ({"type": "SyntheticVessels"}, "auto", "absent", True),     # its own FOV: no key to set
])
def test_val_fov_defaults_and_flag(tmp_path, dataset, flag, want_fov, masked):
    cfg = write_config(tmp_path, dataset)
    assert val_fov(cfg, flag) is masked
    assert cfg.dic["val_dataset"].get("fov", "absent") == want_fov


def test_fov_flag_errors(tmp_path):
    cfg = write_config(tmp_path, {"type": "SyntheticVessels"})
    with pytest.raises(UserError, match="^--fov nowhere: expected auto, none or a folder of FOV masks"):
        val_fov(cfg, "nowhere")
    with pytest.raises(UserError, match="val_dataset type SyntheticVessels takes no FOV masks"):
        val_fov(cfg, str(tmp_path))
    assert predict_fov(cfg, None).source == "auto" and predict_fov(cfg, "none").source is None
    assert default_fov({"train_dataset": {"type": "HRF"}}) == "auto" and default_fov({}) is None
