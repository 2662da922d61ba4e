"""tools/cross_validate.py on a file-list dataset: 3 folds trained (lists by tools/split_dataset.py), the
summary's pooled numbers against numpy sums of the folds' counts and the images' own pixels, a rerun that
only reports, and a report on some folds under its own name."""
import json
import os

import cv2
import numpy as np
import pytest

from paddleseg_lite.cli import cross_validate, split_dataset
from paddleseg_lite.cli.make_synthetic_data import write_dataset
from paddleseg_lite.utils.errors import UserError

CONFIG = """batch_size: 2
iters: 2
train_dataset: {type: Dataset, dataset_root: %(root)s, train_path: train_list.txt, num_classes: 2, mode: train,
                transforms: [{type: RandomHorizontalFlip}, {type: Normalize}]}
val_dataset: {type: Dataset, dataset_root: %(root)s, val_path: train_list.txt, num_classes: 2, mode: val,
              transforms: [{type: Normalize}]}
model: {type: UNet, base_channels: 4}
loss: {types: [{type: CrossEntropyLoss}], coef: [1]}
optimizer: {type: Adam}
lr_scheduler: {type: PolynomialDecay, learning_rate: 0.005}
test_config: {auc_roc: True}
"""


def f1(tp, fp, fn):
    return 2 * tp / (2 * tp + fp + fn)


def auc(neg, pos):
    """Mann-Whitney AUC of per-bin counts, ties counting half."""
    below = np.concatenate([[0], np.cumsum(neg)[:-1]])
    return float(np.sum(pos * (below + neg / 2)) / (neg.sum() * pos.sum()))


def test_three_folds_pooled_numbers_and_resume(tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "cv"
    write_dataset(str(data), 12, 32, "train", 0)
    (tmp_path / "c.yml").write_text(CONFIG % {"root": data})
    split_dataset.main(["--file_list", str(data / "train_list.txt"), "--folds", "3", "--save_dir", str(tmp_path / "s")])
    argv = ["--config", str(tmp_path / "c.yml"), "--splits", str(tmp_path / "s"), "--save_dir", str(out),
            "--device", "cpu", "--engine", "dygraph", "--parallel", "3", "--seed", "1"]
    cross_validate.main(argv)
    summary = json.loads((out / "cv_summary.json").read_text())
    counts = [np.load(out / "fold_{}".format(f) / "cv_eval" / "counts.npz") for f in (1, 2, 3)]
    for fold, c in enumerate(counts, 1):
        held_out = (tmp_path / "s" / "fold_{}".format(fold) / "val.txt").read_text().split()[::3]
        csv_rows = (out / "fold_{}".format(fold) / "cv_eval" / "per_image_metrics.csv").read_text().splitlines()
        assert sorted(r.split(",")[0] for r in csv_rows[1:]) == sorted(str(data / p) for p in held_out)
        assert os.path.isfile(out / "fold_{}".format(fold) / "iter_2" / "model.pdparams")
        assert "seed: 1" in (out / "fold_{}".format(fold) / "config.yml").read_text()
        assert (c["image_counts"].sum(0) == c["confusion_fov"].ravel()[[3, 1, 2, 0]]).all()
    # every labelled pixel inside the FOV of the 12 images is counted exactly once over the folds
    labels = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted((data / "labels").iterdir())]
    masks = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) > 0 for p in sorted((data / "masks").iterdir())]
    pooled = sum(c["confusion_fov"] for c in counts)
    assert pooled.sum() == sum(m.sum() for m in masks)
    assert pooled[1].sum() == sum((lab[m] == 1).sum() for lab, m in zip(labels, masks))
    (tn, fp), (fn, tp) = pooled
    assert np.isclose(summary["pooled"]["F1"], f1(tp, fp, fn)) and summary["pooled"]["images"] == 12
    hist = sum(c["auc_fov"] for c in counts)[0]
    assert np.isclose(summary["pooled"]["AUC"], auc(*hist.astype(np.float64)))
    fold_f1 = [f1(c["confusion_fov"][1, 1], c["confusion_fov"][0, 1], c["confusion_fov"][1, 0]) for c in counts]
    assert np.isclose(summary["mean"]["F1"], np.mean(fold_f1)) and np.isclose(summary["std"]["F1"], np.std(fold_f1,
                                                                                                            ddof=1))
    # the final model's threshold: the best F1 of every held-out pixel over all thresholds (numpy, brute force)
    neg, pos = hist.astype(np.int64)
    tp, fp = [np.cumsum(h[::-1])[::-1] for h in (pos, neg)]
    best = summary["final_model_threshold"]
    assert np.isclose(best["F1"], np.max(2 * tp / (2 * tp + fp + (pos.sum() - tp))))
    k = int(round(best["threshold"] * len(pos)))
    assert np.isclose(best["F1"], f1(tp[k], fp[k], pos.sum() - tp[k]))
    low, high = summary["pooled"]["F1_ci95"]
    assert low <= summary["pooled"]["F1"] <= high
    assert "| pooled | 12 |" in (out / "cv_summary.md").read_text()
    # a rerun trains nothing (the final checkpoints exist) and reports the same numbers
    stamp = os.path.getmtime(out / "fold_2" / "iter_2" / "model.pdparams")
    capsys.readouterr()
    cross_validate.main(argv)
    assert "3 folds, 0 to train" in capsys.readouterr().out
    assert os.path.getmtime(out / "fold_2" / "iter_2" / "model.pdparams") == stamp
    assert json.loads((out / "cv_summary.json").read_text())["pooled"] == summary["pooled"]
    # a report on some of the folds has its own name and leaves the one on all of them
    cross_validate.main(argv + ["--folds", "3", "1"])
    subset = json.loads((out / "cv_summary_folds_1_3.json").read_text())
    assert subset["pooled"]["images"] == 8 and "2 folds" in (out / "cv_summary_folds_1_3.md").read_text()
    assert json.loads((out / "cv_summary.json").read_text()) == summary


@pytest.mark.parametrize("change, message", [
    ("val_dataset: {type: Dataset, dataset_root: /tmp", r"val_dataset \(Dataset, dataset_root /tmp\) is not train_"),
    ("", "--splits .*: fold 4 has no .*fold_4/train.txt"),
])
def test_mistakes_stop_before_any_training(tmp_path, change, message):
    data = tmp_path / "data"
    write_dataset(str(data), 4, 16, "train", 0)
    text = CONFIG % {"root": data}
    if change:
        text = text.replace("val_dataset: {type: Dataset, dataset_root: " + str(data), change)
    (tmp_path / "c.yml").write_text(text)
    split_dataset.main(["--file_list", str(data / "train_list.txt"), "--folds", "2", "--save_dir", str(tmp_path / "s")])
    with pytest.raises(UserError, match=message):
        cross_validate.main(["--config", str(tmp_path / "c.yml"), "--splits", str(tmp_path / "s"), "--save_dir",
                             str(tmp_path / "cv"), "--device", "cpu", "--folds", "1", "4" if not change else "2"])
    assert not os.path.exists(tmp_path / "cv" / "fold_1")


def test_every_train_flag_reaches_each_fold_iters_and_batch_size_included():
    args = cross_validate.parse_args(["--config", "c.yml", "--splits", "s", "--save_dir", "o", "--iters", "100",
                                      "--batch_size", "2", "--seed", "3", "--opts", "model.base_channels=4"])
    opts = cross_validate.fold_opts(args, ("/s/fold_1/train.txt", "/s/fold_1/val.txt"))
    assert opts == ["model.base_channels=4", "iters=100", "batch_size=2", "seed=3",
                    "train_dataset.train_path=/s/fold_1/train.txt", "val_dataset.val_path=/s/fold_1/val.txt"]
