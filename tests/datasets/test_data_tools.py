"""tools/prepare_drive.py and tools/make_synthetic_data.py: outputs readable by the datasets,
idempotence, atomicity, and the one-line error / exit code 2 of the CLIs."""
import importlib
import os
import subprocess
import sys
import zipfile

import cv2
import numpy as np
import pytest

from drive_files import make_drive_folder
from paddleseg_lite.datasets import DRIVE, Dataset, SyntheticVessels
from paddleseg_lite.utils.errors import UserError

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


prepare_drive = importlib.import_module("paddleseg_lite.cli.prepare_drive")
make_synthetic_data = importlib.import_module("paddleseg_lite.cli.make_synthetic_data")


@pytest.fixture
def archive(tmp_path):
    root = str(tmp_path / "src" / "DRIVE")
    train = make_drive_folder(os.path.join(root, "training"), [21, 22, 23], "training", seed=1)
    make_drive_folder(os.path.join(root, "test"), [1, 2], "test", seed=2)
    return root, train


def _tree(folder):
    out = {}
    for path, _, files in os.walk(folder):
        for name in files:
            full = os.path.join(path, name)
            with open(full, "rb") as f:
                out[os.path.relpath(full, folder)] = f.read()
    return out


def test_prepare_from_zip_gives_file_lists_with_fov(tmp_path, archive):
    root, train = archive
    zip_path = str(tmp_path / "DRIVE.zip")
    with zipfile.ZipFile(zip_path, "w") as z:
        for path, _, files in os.walk(root):
            for name in files:
                full = os.path.join(path, name)
                z.write(full, os.path.relpath(full, os.path.dirname(root)))
    out = str(tmp_path / "data" / "DRIVE")
    prepare_drive.main(["--src", zip_path, "--out", out])
    with open(os.path.join(out, "train_list.txt")) as f:
        assert f.read().splitlines()[0] == ("images/21_training.png annotations/21_training.png "
                                           "masks/21_training.png")
    assert sorted(os.listdir(str(tmp_path / "data"))) == ["DRIVE"]
    label = cv2.imread(os.path.join(out, "annotations", "22_training.png"), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(label)) == {0, 1}
    prepared, original = DRIVE(out, mode="train")[1], DRIVE(root, mode="train")[1]
    for key in ("img", "label", "fov"):
        assert np.array_equal(prepared[key], original[key])
    assert len(DRIVE(out, mode="val")) == 2 and len(DRIVE(out, mode="test")) == 2


def test_prepare_is_idempotent(tmp_path, archive):
    out = str(tmp_path / "out")
    prepare_drive.main(["--src", archive[0], "--out", out, "--val_ids", "23"])
    first = _tree(out)
    prepare_drive.main(["--src", archive[0], "--out", out, "--val_ids", "23"])
    assert _tree(out) == first
    assert first["val_list.txt"].decode().split()[0] == "images/23_training.png"
    assert sorted(os.listdir(str(tmp_path))) == ["out", "src"]


def test_prepare_failure_leaves_no_output(tmp_path, archive):
    root = archive[0]
    with open(os.path.join(root, "test", "images", "02_test.tif"), "wb") as f:
        f.write(b"corrupt")
    out = str(tmp_path / "out")
    with pytest.raises(UserError, match="02_test.tif"):
        prepare_drive.main(["--src", root, "--out", out])
    assert sorted(os.listdir(str(tmp_path))) == ["src"]


def test_prepare_refuses_foreign_out_dir(tmp_path, archive):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="not a prepare_dataset output"):
        prepare_drive.main(["--src", archive[0], "--out", str(out)])
    assert (out / "notes.txt").read_text() == "keep me"


def test_prepare_cli_prints_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(REPO, "tools", "prepare_drive.py"),
                             "--src", str(tmp_path / "nothing.zip"), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, cwd=str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: --src '")
    assert len(result.stderr.strip().splitlines()) == 1


def test_make_synthetic_data_matches_dataset(tmp_path):
    out = str(tmp_path / "syn")
    make_synthetic_data.main(["--save_dir", out, "--num", "2", "--size", "40", "32", "--mode", "val", "--seed", "5"])
    from_files = Dataset("val", out, None, 2, val_path="val_list.txt")
    generated = SyntheticVessels(mode="val", num_samples=2, image_size=[40, 32], seed=5)
    assert len(from_files) == 2
    for i in range(2):
        a, b = from_files[i], generated[i]
        for key in ("img", "label", "fov"):
            assert np.array_equal(a[key], b[key]), key
    label = cv2.imread(os.path.join(out, "labels", "synthetic_val_0001.png"), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(label)) == {0, 1}


def test_make_synthetic_data_bad_size(tmp_path):
    with pytest.raises(UserError, match="image_size must be"):
        make_synthetic_data.main(["--save_dir", str(tmp_path), "--size", "4"])


check_data = importlib.import_module("paddleseg_lite.cli.check_data")


def _write_config(tmp_path, text):
    path = tmp_path / "cfg.yml"
    path.write_text(text)
    return str(path)


def test_check_data_reports_stats_and_normalize(tmp_path, capsys):
    cfg = _write_config(tmp_path, "train_dataset: {type: SyntheticVessels, mode: train, num_samples: 3, "
                                  "image_size: 32}\nval_dataset: {type: SyntheticVessels, mode: val, "
                                  "num_samples: 2, image_size: 32}\n")
    check_data.main(["--config", cfg])
    out = capsys.readouterr().out
    assert "== train_dataset: SyntheticVessels (3 samples, mode train, 3 checked)" in out
    assert "image sizes (WxH): 32x32 (3)" in out and "255 (ignore):" in out and "FOV coverage:" in out
    mean_line = [line for line in out.splitlines() if line.strip().startswith("mean: [")][0]
    mean = [float(v) for v in mean_line.split("[")[1].rstrip("]").split(",")]
    ds = SyntheticVessels(mode="train", num_samples=3, image_size=32)
    pixels = np.concatenate([img[fov == 1] for img, _, fov, _ in (ds.load_raw(i) for i in range(3))]) / 255
    assert np.allclose(mean, pixels.mean(axis=0), atol=1e-4)
    assert "inside the FOV" in out


def test_check_data_lists_bad_samples_and_fails(tmp_path, capsys):
    root = tmp_path / "d"
    (root / "img").mkdir(parents=True)
    for name, value in (("ok", 1), ("bad", 7)):
        cv2.imwrite(str(root / "img" / (name + ".png")), np.full((8, 8, 3), 100, np.uint8))
        cv2.imwrite(str(root / "img" / (name + "_l.png")), np.full((8, 8), value, np.uint8))
    (root / "train.txt").write_text("img/ok.png img/ok_l.png\nimg/bad.png img/bad_l.png\n")
    cfg = _write_config(tmp_path, "train_dataset: {{type: Dataset, mode: train, dataset_root: {}, num_classes: 2, "
                                  "transforms: [], train_path: train.txt}}\n".format(root))
    with pytest.raises(UserError, match=r"1 sample\(s\) have problems"):
        check_data.main(["--config", cfg])
    out = capsys.readouterr().out
    assert "problem: label '" in out and "bad_l.png': label values [7] are outside [0, 2)" in out
    assert "classes [0] never appear" in out and "all pixels" in out
