"""tools/convert_labels.py (masks to class-id PNGs by an explicit --map), and training through tools/train.py
on a FolderDataset config of 0/255 masks read through `label_map` with `fov: auto`."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml
from PIL import Image

from fault_check import assert_one_error, leftover_temps, run_tool_args
from tool_runner import ENV, ROOT, load_tool, train_losses

convert_labels = load_tool("convert_labels")


def masks(folder, n=3, size=(12, 16), seed=0):
    """0/255 masks <i>.png / <i>.gif / <i>.BMP in `folder`; returns {stem: mask}."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    for i, ext in zip(range(n), [".png", ".gif", ".BMP"]):
        mask = np.where(rng.random(size) < 0.3, 255, 0).astype(np.uint8)
        Image.fromarray(mask).save(os.path.join(folder, "m{}{}".format(i, ext)))
        written["m{}".format(i)] = mask
    return written


def read(path):
    return np.asarray(Image.open(path))


def test_0_255_masks_become_class_ids(tmp_path, capsys):
    written = masks(str(tmp_path / "raw"))
    convert_labels.main(["--src", str(tmp_path / "raw"), "--out", str(tmp_path / "out"), "--map", "0:0", "255:1"])
    assert sorted(os.listdir(tmp_path / "out")) == ["m0.png", "m1.png", "m2.png"]
    for stem, mask in written.items():
        out = read(tmp_path / "out" / (stem + ".png"))
        assert out.dtype == np.uint8 and out.ndim == 2
        np.testing.assert_array_equal(out, mask // 255)
    share = 100 * np.mean(np.concatenate([m.ravel() for m in written.values()]) == 255)
    assert "convert-labels: wrote 3 class-id PNGs to {} (pixels per class: 0: {:.2f}%, 1: {:.2f}%)".format(
        tmp_path / "out", 100 - share, share) in capsys.readouterr().out
    assert leftover_temps(str(tmp_path)) == []


def test_palette_indices_and_colours(tmp_path):
    index = np.random.default_rng(2).integers(0, 3, (8, 10)).astype(np.uint8)
    pal = Image.fromarray(index, "P")
    pal.putpalette([0, 0, 0, 255, 255, 255, 0, 128, 0] + [0] * 759)
    os.makedirs(tmp_path / "raw")
    pal.save(tmp_path / "raw" / "p.png")
    convert_labels.main(["--src", str(tmp_path / "raw"), "--out", str(tmp_path / "by_index"),
                         "--map", "0:0", "1:255", "2:1"])
    np.testing.assert_array_equal(read(tmp_path / "by_index" / "p.png"), np.array([0, 255, 1])[index])
    Image.fromarray(np.array([[0, 0, 0], [255, 255, 255], [0, 128, 0]], np.uint8)[index]).save(tmp_path / "raw" / "c.png")
    convert_labels.main(["--src", str(tmp_path / "raw"), "--out", str(tmp_path / "by_colour"),
                         "--map", "0,0,0:0", "255,255,255:2", "0,128,0:1"])
    for name in ("p.png", "c.png"):  # a palette PNG's colours, an RGB PNG's colours
        np.testing.assert_array_equal(read(tmp_path / "by_colour" / name), np.array([0, 2, 1])[index])


def test_uncovered_values_are_one_line_listing_them_and_the_files_and_nothing_is_written(tmp_path):
    written = masks(str(tmp_path / "raw"))
    odd = written["m1"].copy()
    odd[0, :3] = [7, 128, 128]
    Image.fromarray(odd).save(tmp_path / "raw" / "m1.gif")
    result = run_tool_args("convert_labels", "--src", tmp_path / "raw", "--out", tmp_path / "out", "--map", "0:0",
                           "255:1")
    line = assert_one_error(result)
    assert line == ("error: --map {0: 0, 255: 1} does not cover values [7, 128] found in 1 of 3 files: "
                    "m1.gif (7, 128); add them to --map (a class, or 255 to ignore those pixels); nothing was written")
    assert not os.path.exists(tmp_path / "out") and leftover_temps(str(tmp_path)) == []


@pytest.mark.parametrize("args, message", [
    (["--map", "0=1"], "--map 0=1: expected KEY:CLASS such as 255:1"),
    (["--map", "0:0", "0:1"], "--map names 0 twice"),
    (["--map", "0:0", "255:300"], "--map: class ids [300] do not fit a uint8 label PNG"),
    (["--map", "red:1"], "--map: key 'red' is neither a stored value"),
    (["--map", "0:0", "1,2,3:1"], "--map mixes stored values and RGB colours")])
def test_a_bad_map_is_refused(tmp_path, args, message):
    masks(str(tmp_path / "raw"), n=1)
    with pytest.raises(convert_labels.UserError) as info:
        convert_labels.main(["--src", str(tmp_path / "raw"), "--out", str(tmp_path / "out")] + args)
    assert str(info.value).startswith(message)


def test_src_and_out_mistakes(tmp_path):
    masks(str(tmp_path / "raw"), n=1)
    base = ["--map", "0:0", "255:1"]
    with pytest.raises(convert_labels.UserError, match="--src .*nope: not a folder"):
        convert_labels.main(["--src", str(tmp_path / "nope"), "--out", str(tmp_path / "out")] + base)
    with pytest.raises(convert_labels.UserError, match="--out .*raw: is --src"):
        convert_labels.main(["--src", str(tmp_path / "raw"), "--out", str(tmp_path / "raw")] + base)
    os.makedirs(tmp_path / "empty")
    with pytest.raises(convert_labels.UserError, match="--src .*empty: no image files"):
        convert_labels.main(["--src", str(tmp_path / "empty"), "--out", str(tmp_path / "out")] + base)


FOLDER_CONFIG = """
batch_size: 2
iters: 3
train_dataset:
  type: FolderDataset
  dataset_root: {root}
  num_classes: 2
  mode: train
  label_map: {{0: 0, 255: 1}}
  fov: auto
  transforms:
    - type: RandomHorizontalFlip
    - type: Normalize
val_dataset:
  type: FolderDataset
  dataset_root: {root}
  num_classes: 2
  mode: val
  label_map: {{0: 0, 255: 1}}
  fov: auto
  transforms:
    - type: Normalize
model:
  type: UNet
  base_channels: 4
loss:
  types:
    - type: CrossEntropyLoss
  coef: [1]
optimizer:
  type: Adam
lr_scheduler:
  type: PolynomialDecay
  learning_rate: 0.005
"""


def test_train_three_iterations_on_a_folder_dataset(tmp_path):
    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32]
    disc = np.hypot(xx - 16, yy - 16) < 14
    for i, ext in enumerate([".png", ".jpg", ".tif", ".bmp"]):
        img = np.where(disc[..., None], rng.integers(100, 256, (32, 32, 3)), 0).astype(np.uint8)
        os.makedirs(root / "images", exist_ok=True)
        cv2.imwrite(str(root / "images" / "eye{}{}".format(i, ext)), img)
        masks(str(root / "masks"), n=1, size=(32, 32), seed=i)
        os.rename(root / "masks" / "m0.png", root / "masks" / "eye{}.png".format(i))
    config = tmp_path / "folder.yml"
    config.write_text(FOLDER_CONFIG.format(root=root))
    cmd = [sys.executable, os.path.join(ROOT, "tools", "train.py"), "--config", str(config), "--device", "cpu",
           "--do_eval", "--save_interval", "3", "--log_iters", "1", "--seed", "1", "--save_dir", str(tmp_path / "out")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=ROOT, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(train_losses(result.stdout)) == [1, 2, 3]
    assert "FolderDataset: train uses all 4 samples of '{}'".format(root) in result.stdout
    assert "[EVAL] #Images: 4 mIoU:" in result.stdout
    saved = yaml.safe_load((tmp_path / "out" / "config.yml").read_text())
    assert saved["train_dataset"]["label_map"] == {0: 0, 255: 1} and saved["val_dataset"]["fov"] == "auto"
