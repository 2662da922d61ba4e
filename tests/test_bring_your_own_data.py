"""Issue 17's acceptance, as a user runs it (docs/own_data.md): a folder of 12 images + 0/255 masks,
split into 3 folds, cross-validated with a tiny model, then predicted with the 3-model ensemble, every step
through the `paddleseg_lite` command."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np

from paddleseg_lite.datasets.synthetic import SyntheticVessels
from tool_runner import ENV, ROOT

CONFIG = """batch_size: 2
iters: 2
train_dataset: {type: FolderDataset, dataset_root: %(root)s, num_classes: 2, mode: train, label_map: {0: 0, 255: 1},
                transforms: [{type: RandomHorizontalFlip}, {type: Normalize}]}
val_dataset: {type: FolderDataset, dataset_root: %(root)s, num_classes: 2, mode: val, label_map: {0: 0, 255: 1},
              transforms: [{type: Normalize}]}
model: {type: UNet, base_channels: 4}
loss: {types: [{type: CrossEntropyLoss}], coef: [1]}
optimizer: {type: Adam}
lr_scheduler: {type: PolynomialDecay, learning_rate: 0.005}
test_config: {auc_roc: True}
"""


def command(*args, cwd):
    result = subprocess.run([sys.executable, "-m", "paddleseg_lite", *args], capture_output=True, text=True,
                             cwd=cwd, env=dict(ENV, PYTHONPATH=ROOT), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def write_folder(root, num=12, size=40):
    """images/<name>.png (RGB fundus-like), masks/<name>.png (vessels 0/255), fov/<name>.png (0/255)."""
    dataset = SyntheticVessels(mode="train", num_samples=num, image_size=size, seed=3)
    for sub in ("images", "masks", "fov"):
        os.makedirs(os.path.join(root, sub))
    for idx in range(num):
        img, vessels, fov = dataset.generate(idx)
        name = "eye_{:02d}.png".format(idx)
        for sub, array in (("images", img[:, :, ::-1]), ("masks", vessels * 255), ("fov", fov * 255)):
            assert cv2.imwrite(os.path.join(root, sub, name), array.astype(np.uint8))


def test_folder_to_three_fold_cross_validation_to_an_ensemble_prediction(tmp_path):
    data = tmp_path / "my_eyes"
    write_folder(str(data))
    (tmp_path / "my_eyes.yml").write_text(CONFIG % {"root": data})
    command("split-dataset", "--config", "my_eyes.yml", "--folds", "3", "--save_dir", "splits", cwd=tmp_path)
    held_out = [(tmp_path / "splits" / "fold_{}".format(f) / "val.txt").read_text().split("\n") for f in (1, 2, 3)]
    held_out = [sorted(line.split()[0] for line in lines if line) for lines in held_out]
    every = sorted("images/eye_{:02d}.png".format(i) for i in range(12))
    assert sorted(sum(held_out, [])) == every  # disjoint and covering: each image held out exactly once
    for fold in (1, 2, 3):
        train = (tmp_path / "splits" / "fold_{}".format(fold) / "train.txt").read_text().split("\n")
        assert sorted(line.split()[0] for line in train if line) == sorted(set(every) - set(held_out[fold - 1]))

    command("cross-validate", "--config", "my_eyes.yml", "--splits", "splits", "--save_dir", "cv", "--device", "cpu",
            "--parallel", "2", cwd=tmp_path)
    summary = json.loads((tmp_path / "cv" / "cv_summary.json").read_text())
    assert summary["pooled"]["images"] == 12 and 0 <= summary["pooled"]["F1"] <= 1

    models = [str(tmp_path / "cv" / "fold_{}".format(f) / "iter_2" / "model.pdparams") for f in (1, 2, 3)]
    command("predict", "--config", "my_eyes.yml", "--model_path", *models, "--image_path", str(data / "images"),
            "--save_dir", "pred", "--device", "cpu", cwd=tmp_path)
    written = sorted(os.listdir(tmp_path / "pred" / "pseudo_color_prediction"))
    assert written == ["eye_{:02d}.png".format(i) for i in range(12)]
