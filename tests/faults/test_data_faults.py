"""Fault injection, data: errors met in DataLoader worker processes (issue 12, category 3) and inputs that
only partly work (category 5): images of different sizes in a batch, truncated / empty / non-image files
in datasets, val and predict, folders with some unreadable images, corrupt or truncated zips."""
import multiprocessing
import os
import threading
import zipfile

import cv2
import numpy as np
import pytest
import yaml

from fault_check import assert_one_error, leftover_temps, run_tool_args
from paddleseg_lite.core.loader import ShardBatchSampler, build_loader
from paddleseg_lite.core.predict import SkippedImages
from paddleseg_lite.cvlibs import Config
from paddleseg_lite.datasets import download
from paddleseg_lite.transforms import Compose, io
from paddleseg_lite.utils.errors import UserError
from tool_runner import load_tool, save_tiny_weights

PREPARE_DRIVE = load_tool("prepare_drive")


def write_dataset(root, sizes=(32, 32, 32, 32), bad_label=None):
    """Images `img/i.png` (HxW = size x size+8) with 0/1 labels `lab/i.png`; `bad_label` gets a 7.
    Returns the config path (file-list Dataset for train and val, UNet with 4 base channels)."""
    rng = np.random.RandomState(0)
    os.makedirs(os.path.join(root, "img"))
    os.makedirs(os.path.join(root, "lab"))
    for i, size in enumerate(sizes):
        image = rng.randint(0, 255, (size, size + 8, 3)).astype(np.uint8)
        cv2.imwrite(os.path.join(root, "img", "{}.png".format(i)), image)
        label = (rng.rand(size, size + 8) > 0.5).astype(np.uint8)
        label[0, 0] = 7 if i == bad_label else label[0, 0]
        cv2.imwrite(os.path.join(root, "lab", "{}.png".format(i)), label)
    with open(os.path.join(root, "list.txt"), "w") as f:
        f.write("".join("img/{0}.png lab/{0}.png\n".format(i) for i in range(len(sizes))))
    dataset = {"type": "Dataset", "dataset_root": str(root), "num_classes": 2, "transforms": [{"type": "Normalize"}]}
    config = {"batch_size": 2, "iters": 4, "model": {"type": "UNet", "base_channels": 4},
              "train_dataset": dict(dataset, mode="train", train_path="list.txt"),
              "val_dataset": dict(dataset, mode="val", val_path="list.txt"),
              "loss": {"types": [{"type": "CrossEntropyLoss"}], "coef": [1]}, "optimizer": {"type": "Adam"},
              "lr_scheduler": {"type": "PolynomialDecay", "learning_rate": 0.005}}
    path = os.path.join(root, "config.yml")
    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    return path


def truncate(path, keep=0.5):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:int(len(data) * keep)])


def processes_naming(text):
    """PIDs of live processes whose command line holds `text` (a tool run's worker left behind)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/{}/cmdline".format(pid), "rb") as f:
                if text.encode() in f.read():
                    pids.append(pid)
        except OSError:
            pass
    return pids


def expected_error(config, index):
    """The message of the UserError that loading train sample `index` raises in this process."""
    with pytest.raises(UserError) as info:
        Config(config).train_dataset[index]
    return "error: " + str(info.value)


# ----------------------------------------------------------------------------- category 3: worker processes

def test_bad_label_under_train_workers_is_the_one_line_of_no_workers(tmp_path):
    config = write_dataset(tmp_path / "data", bad_label=2)
    result = run_tool_args("train", "--config", config, "--device", "cpu", "--num_workers", 2,
                           "--save_dir", tmp_path / "out")
    line = assert_one_error(result, "lab/2.png", "outside [0, 2)")
    assert line == expected_error(config, 2)
    assert "Blocking queue" not in result.stderr and processes_naming(str(tmp_path)) == []


def test_truncated_image_under_val_workers_is_one_line(tmp_path):
    config = write_dataset(tmp_path / "data")
    truncate(tmp_path / "data" / "img" / "1.png")
    save_tiny_weights(tmp_path / "model.pdparams")
    result = run_tool_args("val", "--config", config, "--model_path", tmp_path / "model.pdparams",
                           "--device", "cpu", "--engine", "dygraph", "--num_workers", 1)
    assert_one_error(result, "img/1.png", "truncated", "re-copy")
    assert "libpng" not in result.stderr and processes_naming(str(tmp_path)) == []


class FailingItems:
    """Samples `img_path` i; sample `bad` raises a UserError, sample `wide` has a wider image."""

    def __init__(self, bad=None, wide=None):
        self.bad, self.wide = bad, wide

    def __len__(self):
        return 4

    def __getitem__(self, index):
        if index == self.bad:
            raise UserError("sample {} is broken".format(index))
        width = 5 if index == self.wide else 4
        return {"img": np.zeros((1, 3, width), np.float32), "img_path": "p{}".format(index)}


@pytest.mark.parametrize("items, sampler, message", [
    (FailingItems(bad=2), ShardBatchSampler(4), "sample 2 is broken"),
    (FailingItems(wide=3), [[0, 1], [2, 3]], "'p2' is 4x3 and 'p3' is 5x3 (WxH)"),
])
def test_worker_user_error_is_raised_in_the_caller_after_the_batches_before_it(items, sampler, message):
    for num_workers in (0, 2):
        seen = []
        with pytest.raises(UserError) as info:
            for batch in build_loader(items, sampler, num_workers):
                seen += batch["img_path"]
        assert message in str(info.value) and seen == ["p0", "p1"]
        assert multiprocessing.active_children() == []  # the workers were joined, none left running
        assert "paddleseg_lite-loader" not in [t.name for t in threading.enumerate()]  # the thread too


# ----------------------------------------------------------------------------- category 5: sizes in a batch

def test_images_of_different_sizes_in_one_batch_name_the_files_and_the_fix(tmp_path):
    config = write_dataset(tmp_path, sizes=(32, 40, 32, 40))
    cfg = Config(config)
    with pytest.raises(UserError) as info:
        list(build_loader(cfg.train_dataset, [[0, 1]], 0))
    assert str(info.value) == (
        "images of different sizes in one batch: '{0}/img/0.png' is 40x32 and '{0}/img/1.png' is 48x40 (WxH) "
        "after the transforms; add a RandomPaddingCrop (crop_size) or Resize (target_size) to "
        "train_dataset.transforms so that every image comes out the same size, or set batch_size: 1".format(tmp_path))


# ----------------------------------------------------------------------------- category 5: damaged image files

def damaged_files(folder):
    """{name: the reason the reader gives} for files that decode partially or not at all."""
    image = cv2.GaussianBlur(np.random.RandomState(0).randint(0, 255, (24, 32, 3)).astype(np.uint8), (5, 5), 0)
    for suffix in (".png", ".jpg", ".tif", ".bmp"):
        cv2.imwrite(str(folder / ("cut" + suffix)), image)
        truncate(folder / ("cut" + suffix), 0.6)
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("not an image\n")
    return {"cut.png": "the file is truncated (its IDAT chunk runs past the end",
            "cut.jpg": "the file is truncated (it ends before its end-of-image marker",
            "cut.tif": "OpenCV cannot decode it", "cut.bmp": "OpenCV cannot decode it",
            "empty.png": "the file is empty (0 bytes)", "text.png": "OpenCV cannot decode it",
            "missing.png": "No such file or directory"}


def test_damaged_images_and_labels_are_one_quiet_error_naming_the_file(tmp_path, capfd):
    for name, reason in damaged_files(tmp_path).items():
        path = str(tmp_path / name)
        for read, what in ((io.read_image, "image"), (io.read_label, "label")):
            with pytest.raises(UserError) as info:
                read(path)
            assert str(info.value).startswith("Cannot read {} file {}: {}".format(what, path, reason))
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")  # no libpng / libjpeg / OpenCV lines besides the error


def test_a_truncated_jpeg_is_refused_though_opencv_decodes_it(tmp_path):
    damaged_files(tmp_path)
    assert cv2.imread(str(tmp_path / "cut.jpg")) is not None  # grey where the data is missing
    with pytest.raises(UserError, match="cut.jpg: the file is truncated"):
        Compose([])({"img": str(tmp_path / "cut.jpg")})


def test_predict_folder_skips_unreadable_images_and_reports_them(tmp_path):
    config = write_dataset(tmp_path / "data")
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "good.png"), np.full((24, 32, 3), 128, np.uint8))
    skipped = sorted(name for name in damaged_files(images) if name != "missing.png")
    save_tiny_weights(tmp_path / "model.pdparams")
    result = run_tool_args("predict", "--config", config, "--model_path", tmp_path / "model.pdparams",
                           "--image_path", images, "--save_dir", tmp_path / "out", "--device", "cpu",
                           "--engine", "dygraph")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    warnings = [line for line in result.stdout.splitlines() if "WARNING: Skipped" in line]
    assert [line.split("WARNING: Skipped ")[1].split(":")[0] for line in warnings[:-1]] == [
        str(images / name) for name in skipped]
    assert warnings[-1].endswith("WARNING: Skipped 6 of 7 images that could not be read (named above); the other "
                                 "1 were predicted")
    assert os.listdir(tmp_path / "out" / "pseudo_color_prediction") == ["good.png"]
    assert "libpng" not in result.stderr and leftover_temps(tmp_path / "out") == []


def test_prediction_fails_only_when_no_image_can_be_read(tmp_path, log_lines):
    damaged_files(tmp_path)
    paths = [str(tmp_path / name) for name in ("empty.png", "text.png")]
    skipped = SkippedImages(len(paths))
    assert [skipped.load(Compose([]), path) for path in paths] == [None, None]
    with pytest.raises(UserError, match="none of the 2 images could be read"):
        skipped.finish()
    assert log_lines == ["Skipped {}: Cannot read image file {}: ".format(p, p) + m for p, m in zip(paths, [
        "the file is empty (0 bytes); re-create or re-copy it.",
        "OpenCV cannot decode it (damaged or truncated, or not an image despite its name); re-create it."])]
    with pytest.raises(UserError, match="empty.png: the file is empty"):  # one image: its own error
        SkippedImages(1).load(Compose([]), paths[0])


def test_deploy_infer_skips_unreadable_images_of_a_batch(tmp_path, log_lines):
    infer = load_tool("infer")
    damaged_files(tmp_path)
    cv2.imwrite(str(tmp_path / "good.png"), np.zeros((6, 8, 3), np.uint8))

    def predictor(batch):
        return np.zeros((len(batch), 2) + batch.shape[2:], np.float32)
    predictor.output_op = "softmax"
    paths = [str(tmp_path / name) for name in ("cut.png", "good.png", "text.png")]
    skipped = SkippedImages(3)
    (path, pred), = infer.predict_batch(predictor, Compose([]), paths, skipped)
    assert path == paths[1] and pred.shape == (6, 8)
    skipped.finish()
    assert skipped.paths == [paths[0], paths[2]] and log_lines[-1].startswith("Skipped 2 of 3 images")


# ----------------------------------------------------------------------------- category 5: archives

def drive_zip(path):
    """A zip with a few stored (uncompressed) DRIVE-like members and a deflated one; returns its bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        for i in (21, 22):
            archive.writestr("DRIVE/training/images/{}_training.tif".format(i), b"stored image data " * 40)
        archive.writestr("DRIVE/training/notes.txt", b"deflated text " * 200, compress_type=zipfile.ZIP_DEFLATED)
    with open(path, "rb") as f:
        return f.read()


def corrupt(data, member_text):
    """`data` with one byte changed inside the first occurrence of `member_text` (a member's content)."""
    pos = data.index(member_text) + 5
    return data[:pos] + bytes([data[pos] ^ 0xFF]) + data[pos + 1:]


def test_prepare_drive_truncated_zip_is_called_truncated_and_leaves_nothing(tmp_path):
    data = drive_zip(tmp_path / "DRIVE.zip")
    (tmp_path / "DRIVE.zip").write_bytes(data[:len(data) // 2])
    result = run_tool_args("prepare_drive", "--src", tmp_path / "DRIVE.zip", "--out", tmp_path / "data" / "DRIVE")
    assert_one_error(result, "DRIVE.zip", "corrupt or truncated", "download it again")
    assert os.listdir(tmp_path / "data") == []


@pytest.mark.parametrize("member_text, reason, check_reason", [
    (b"stored image data", "Bad CRC-32", "member 'DRIVE/training/images/21_training.tif' is damaged"),
    (b"\x00", "Error -3 while decompressing", "Error -3 while decompressing")])
def test_a_corrupt_zip_member_is_one_error_and_no_half_extracted_output(tmp_path, member_text, reason, check_reason):
    data = drive_zip(tmp_path / "good.zip")
    if member_text == b"\x00":  # the deflated member: damage its compressed stream
        info = zipfile.ZipFile(tmp_path / "good.zip").getinfo("DRIVE/training/notes.txt")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
        data = data[:start] + b"\xff" * 8 + data[start + 8:]
    else:
        data = corrupt(data, member_text)
    src = tmp_path / "no_zip_suffix"
    src.write_bytes(data)
    with pytest.raises(UserError, match=r"zip '.*no_zip_suffix' is corrupt or truncated \(.*{}.*\); download it "
                                        "again".format(reason)):
        PREPARE_DRIVE.main(["--src", str(src), "--out", str(tmp_path / "data" / "DRIVE")])
    assert os.listdir(tmp_path / "data") == []
    with pytest.raises(UserError, match=r"download of URL is not a valid zip \({}.*\); it was deleted".format(
            check_reason)):
        download._check_zip(str(src), "URL")
