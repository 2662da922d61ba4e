"""STARE, CHASE_DB1 and HRF read from their original archives (generated miniatures with the real names),
split lists on the vessel datasets, and tools/prepare_dataset.py."""
import gzip
import importlib
import os
import runpy
import sys

import numpy as np
import pytest

from drive_files import make_drive_folder
from tool_runner import ROOT
from paddleseg_lite.datasets import CHASEDB1, DRIVE, HRF, STARE
from paddleseg_lite.transforms import io
from paddleseg_lite.utils.errors import UserError
from vessel_archive_files import (CHASE_IDS, HRF_IDS, STARE_IDS, extract, make_chase, make_hrf, make_stare,
                                  vessel_classes)

prepare_dataset = importlib.import_module("paddleseg_lite.cli.prepare_dataset")


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("archives"))
    stare = make_stare(folder)
    chase = make_chase(folder)
    hrf = make_hrf(folder)
    roots = {"STARE": extract(stare[0], os.path.join(folder, "STARE")),
             "CHASE_DB1": extract([chase[0]], os.path.join(folder, "CHASE_DB1")),
             "HRF": extract([hrf[0]], os.path.join(folder, "HRF"))}
    return {"STARE": (stare[0], stare[1]), "CHASE_DB1": ([chase[0]], chase[1]), "HRF": ([hrf[0]], hrf[1]),
            "roots": roots}


def _names(ds):
    return [os.path.basename(s.img) for s in ds.file_list]


def _expected_label(mask, fov):
    return np.where(fov == 0, 255, vessel_classes(mask))


def test_stare_tars_default_split_labels_and_auto_fov(archives, log_lines):
    root, truth = archives["roots"]["STARE"], archives["STARE"][1]
    train, val = STARE(root, mode="train"), STARE(root, mode="val")
    assert _names(train) == ["im{:04d}.ppm.gz".format(i) for i in STARE_IDS[:10]]
    assert _names(val) == ["im{:04d}.ppm.gz".format(i) for i in STARE_IDS[10:]]
    assert _names(STARE(root, mode="test")) == _names(val)
    img, ah, vk, fov = truth[44]
    item = train[5]  # im0044
    assert np.array_equal(item["img"].transpose(1, 2, 0), img[:, :, ::-1])
    assert np.array_equal(item["fov"], fov)  # no masks in the archive: estimated (fov: auto)
    assert np.array_equal(item["label"], _expected_label(ah, fov))
    second = STARE(root, mode="train", annotator=2)[5]
    assert np.array_equal(second["label"], _expected_label(vk, fov))
    assert any("has no FOV masks; estimating them" in line for line in log_lines)
    assert "fov" not in STARE(root, mode="train", fov="none")[0]


def test_chase_zip_first_20_train_last_8_val(archives):
    root, truth = archives["roots"]["CHASE_DB1"], archives["CHASE_DB1"][1]
    train, val = CHASEDB1(root, mode="train"), CHASEDB1(root, mode="val")
    assert _names(train) == ["Image_{}.jpg".format(i) for i in CHASE_IDS[:20]]
    assert _names(val) == ["Image_{}.jpg".format(i) for i in CHASE_IDS[20:]]
    img, first, second, fov = truth["12R"]
    item = val[3]
    assert item["label"].shape == (1, 32, 40) and np.mean(item["fov"][0] != fov) < 0.01
    assert np.array_equal(item["label"][0], _expected_label(first, item["fov"][0]))
    assert np.array_equal(CHASEDB1(root, mode="val", annotator=2)[3]["label"][0],
                          _expected_label(second, item["fov"][0]))
    held = CHASEDB1(root, mode="val", val_ids=["Image_03L", "1r"])
    assert _names(held) == ["Image_01R.jpg", "Image_03L.jpg"]
    assert len(CHASEDB1(root, mode="train", val_ids=["Image_03L", "1r"])) == 26


def test_hrf_zip_uses_its_fov_masks_and_splits_5_per_group(archives):
    root, truth = archives["roots"]["HRF"], archives["HRF"][1]
    train = HRF(root, mode="train")
    assert sorted(_names(train)) == sorted("{}.{}".format(i, "JPG" if "dr" in i else "jpg")
                                           for i in HRF_IDS if int(i[:2]) <= 5)
    assert len(HRF(root, mode="val")) == 30
    img, mask, fov = truth["03_g"]
    item = train[_names(train).index("03_g.jpg")]
    assert np.array_equal(item["fov"], fov)
    assert np.array_equal(item["label"], _expected_label(mask, fov))
    assert _names(HRF(root, mode="val", val_ids=["6_dr"])) == ["06_dr.JPG"]
    with pytest.raises(ValueError, match="HRF: annotator must be one of"):
        HRF(root, annotator=2)
    with pytest.raises(ValueError, match=r"HRF: val_ids must be a list of image ids such as \[06_dr"):
        HRF(root, val_ids=["6"])


def test_missing_label_and_duplicate_files_are_named(tmp_path, archives):
    paths = archives["STARE"][0]
    root = extract(paths[:1], str(tmp_path / "only_images"))
    with pytest.raises(UserError, match=r"STARE: image '.*im0001.ppm.gz' has no label \(expected im0001.ppm"):
        STARE(root, mode="train")
    assert len(STARE(root, mode="test")) == 10  # test mode needs no labels
    extract(paths[:1], str(tmp_path / "only_images" / "again"))
    with pytest.raises(UserError, match="STARE: two files for image 1: "):
        STARE(root, mode="test")


def test_a_damaged_gzip_member_is_one_user_error(tmp_path):
    path = tmp_path / "im0001.ppm.gz"
    path.write_bytes(gzip.compress(b"P6 2 2 255 " + bytes(12))[:-6])
    with pytest.raises(UserError, match="im0001.ppm.gz: its gzip stream is damaged or truncated"):
        io.read_image(str(path))


def _write_list(root, name, lines):
    with open(os.path.join(root, name), "w") as f:
        f.write("\n".join(lines) + "\n")
    return name


def test_split_lists_select_exactly_the_listed_samples_with_label_rule_and_fov(tmp_path, archives):
    root = str(tmp_path / "DRIVE")
    train = make_drive_folder(os.path.join(root, "training"), [21, 22, 23], "training", seed=1)
    make_drive_folder(os.path.join(root, "test"), [1, 2], "test", seed=2)
    lines = ["training/images/23_training.tif training/1st_manual/23_manual1.gif",
             "test/images/01_test.tif test/1st_manual/01_manual1.gif"]
    listed = DRIVE(root, mode="train", train_path=_write_list(root, "fold.txt", lines), val_ids=[21])
    assert [s.img for s in listed.file_list] == [os.path.join(root, line.split()[0]) for line in lines]
    _, vessels, fov = train[23]
    item = listed[0]
    assert np.array_equal(item["fov"], fov // 255)  # the archive's mask of that image, though the line has none
    assert np.array_equal(item["label"], np.where(fov == 0, 255, vessels // 255))
    stare_root = archives["roots"]["STARE"]
    _write_list(str(tmp_path), "v.txt", ["{}/im0002.ppm.gz {}/im0002.ah.ppm.gz".format(stare_root, stare_root)])
    val = STARE(stare_root, mode="val", val_path=str(tmp_path / "v.txt"))
    img, ah, _, fov = archives["STARE"][1][2]
    assert _names(val) == ["im0002.ppm.gz"]
    assert np.array_equal(val[0]["label"][0], _expected_label(ah, fov))  # absolute list path, auto FOV
    with pytest.raises(UserError, match="list file 'nope.txt' not found .* fix `test_path`"):
        HRF(archives["roots"]["HRF"], mode="test", test_path="nope.txt")


def test_split_list_on_the_release_layout_keeps_its_fov_column(tmp_path):
    root = str(tmp_path / "rel")
    out = prepare_dataset.main  # the release layout, written by the prepare tool from a DRIVE folder
    make_drive_folder(str(tmp_path / "src"), [21, 22, 23], "training", seed=4)
    out(["--dataset", "DRIVE", "--src", str(tmp_path / "src"), "--out", root, "--val_ids", "23"])
    ds = DRIVE(root, mode="val", val_path=_write_list(root, "one.txt", ["images/22_training.png "
                                                                        "annotations/22_training.png"]))
    reference = DRIVE(str(tmp_path / "src"), mode="val", val_ids=[22])[0]
    assert len(ds) == 1
    for key in ("label", "fov"):
        assert np.array_equal(ds[0][key], reference[key])


@pytest.mark.parametrize("name, cls, extra", [("STARE", STARE, []), ("CHASE_DB1", CHASEDB1, ["--annotator", "2"]),
                                              ("HRF", HRF, ["--val_ids", "01_dr", "15_h"])])
def test_prepare_dataset_matches_reading_the_archive(tmp_path, archives, name, cls, extra):
    paths = archives[name][0]
    out = str(tmp_path / "data" / name)
    prepare_dataset.main(["--dataset", name, "--src", *paths, "--out", out, *extra])
    assert sorted(os.listdir(str(tmp_path / "data"))) == [name]
    assert sorted(os.listdir(out)) == ["annotations", "images", "masks", "train_list.txt", "val_list.txt"]
    options = dict(annotator=2) if "--annotator" in extra else dict(val_ids=["01_dr", "15_h"]) if extra else {}
    for mode in ("train", "val"):
        prepared, original = cls(out, mode=mode), cls(archives["roots"][name], mode=mode, **options)
        assert len(prepared) == len(original)
        for key in ("img", "label", "fov"):
            assert np.array_equal(prepared[1][key], original[1][key]), (mode, key)
    if name == "STARE":
        with open(os.path.join(out, "val_list.txt")) as f:
            assert f.readline().split() == ["images/im0162.png", "annotations/im0162.png", "masks/im0162.png"]


def test_prepare_dataset_from_an_extracted_folder_leaves_it_alone(tmp_path, archives):
    root = archives["roots"]["CHASE_DB1"]
    before = sorted(os.listdir(root))
    prepare_dataset.main(["--dataset", "CHASEDB1", "--src", root, "--out", str(tmp_path / "c")])
    assert sorted(os.listdir(root)) == before and len(os.listdir(str(tmp_path / "c" / "images"))) == 28


def test_prepare_dataset_wrong_or_damaged_archive_is_one_error_and_no_output(tmp_path, archives):
    with pytest.raises(UserError, match=r"--src .*CHASEDB1.zip: no STARE files found \(expected im0001.ppm"):
        prepare_dataset.main(["--dataset", "STARE", "--src", *archives["CHASE_DB1"][0], "--out", str(tmp_path / "o")])
    data = open(archives["STARE"][0][1], "rb").read()
    (tmp_path / "labels-ah.tar").write_bytes(data[:len(data) // 2])
    with pytest.raises(UserError, match=r"tar '.*labels-ah.tar' is corrupt or truncated .*download it again"):
        prepare_dataset.main(["--dataset", "STARE", "--src", archives["STARE"][0][0], str(tmp_path / "labels-ah.tar"),
                              "--out", str(tmp_path / "o")])
    assert sorted(os.listdir(str(tmp_path))) == ["labels-ah.tar"]


def test_prepare_dataset_tool_prints_one_error_line(tmp_path, archives, monkeypatch, capsys):
    """tools/prepare_dataset.py run in this process (a subprocess would spend seconds importing Paddle)."""
    monkeypatch.setattr(sys, "argv", ["prepare_dataset.py", "--dataset", "HRF", "--src", archives["STARE"][0][0],
                                      "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(os.path.join(ROOT, "tools", "prepare_dataset.py"), run_name="__main__")
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1
    assert err[0].startswith("error: --src ") and "stare-images.tar: no HRF files found" in err[0]
