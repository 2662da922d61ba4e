"""tools/split_dataset.py: fold lists disjoint and covering every sample, seeded, stratified, grouped; errors."""
import json
import os

import pytest

from paddleseg_lite.cli import split_dataset
from paddleseg_lite.utils.errors import UserError


def make_list(root, n):
    """A file list of n (empty) image/label files; only their existence is checked. Returns its path."""
    lines = []
    for i in range(n):
        for sub in ("img", "lab"):
            os.makedirs(root / sub, exist_ok=True)
            (root / sub / "s{:02d}.png".format(i)).write_bytes(b"")
        lines.append("img/s{0:02d}.png lab/s{0:02d}.png".format(i))
    (root / "list.txt").write_text("\n".join(lines) + "\n")
    return str(root / "list.txt"), lines


def read(path):
    return path.read_text().splitlines()


def test_folds_are_disjoint_cover_every_sample_and_repeat_with_the_seed(tmp_path, capsys):
    file_list, lines = make_list(tmp_path / "d", 10)
    for out in ("a", "b"):
        split_dataset.main(["--file_list", file_list, "--folds", "3", "--seed", "4", "--save_dir", str(tmp_path / out)])
    vals = [read(tmp_path / "a" / "fold_{}".format(f) / "val.txt") for f in (1, 2, 3)]
    assert sorted(sum(vals, [])) == lines and sorted(map(len, vals)) == [3, 3, 4]
    for f, val in enumerate(vals, 1):
        assert sorted(read(tmp_path / "a" / "fold_{}".format(f) / "train.txt") + val) == lines
    assert read(tmp_path / "a" / "all.txt") == lines
    for name in ("fold_1/val.txt", "fold_3/train.txt", "splits.json"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text().replace(
            str(tmp_path / "b"), str(tmp_path / "a"))
    record = json.loads((tmp_path / "a" / "splits.json").read_text())
    assert record["seed"] == 4 and record["k"] == 3 and record["counts"]["fold_2/train.txt"] + \
        record["counts"]["fold_2/val.txt"] == 10
    assert "fold_1/val.txt" in capsys.readouterr().out


def test_ratio_split_and_a_config_source(tmp_path):
    file_list, lines = make_list(tmp_path / "d", 20)
    config = tmp_path / "c.yml"
    config.write_text("train_dataset: {type: Dataset, dataset_root: %s, train_path: list.txt, num_classes: 2, "
                      "mode: train, transforms: []}\n" % (tmp_path / "d"))
    split_dataset.main(["--config", str(config), "--val_ratio", "0.25", "--test_ratio", "0.1",
                        "--save_dir", str(tmp_path / "s")])
    parts = [read(tmp_path / "s" / n) for n in ("train.txt", "val.txt", "test.txt")]
    assert list(map(len, parts)) == [13, 5, 2] and sorted(sum(parts, [])) == lines  # relative to dataset_root


def test_stratified_and_grouped_folds(tmp_path):
    file_list, lines = make_list(tmp_path / "d", 12)
    rows = ["stem,grade,patient"] + ["s{:02d},{},p{}".format(i, "a" if i < 8 else "b", i // 2) for i in range(12)]
    (tmp_path / "g.csv").write_text("\n".join(rows) + "\n")
    split_dataset.main(["--file_list", file_list, "--folds", "2", "--groups", str(tmp_path / "g.csv"), "--stratify",
                        "--group_by", "patient", "--save_dir", str(tmp_path / "s")])
    for fold in (1, 2):
        stems = [int(line[5:7]) for line in read(tmp_path / "s" / "fold_{}".format(fold) / "val.txt")]
        assert sum(i < 8 for i in stems) == 4 and sum(i >= 8 for i in stems) == 2  # 8 a + 4 b, halved
        assert all(i ^ 1 in stems for i in stems)  # both images of a patient (2k, 2k+1) together
    strata = json.loads((tmp_path / "s" / "splits.json").read_text())["strata"]
    assert strata["fold_1/val.txt"] == {"a": 4, "b": 2}


@pytest.mark.parametrize("extra, csv_rows, message", [
    (["--folds", "13"], None, "--folds 13: more folds than the 12 samples"),
    (["--folds", "3", "--stratify"], ["stem,grade", "s00,a", "zz,b"], "1 stems not among the dataset's images: zz"),
    (["--folds", "3", "--group_by", "patiant"], ["stem,patient"] + ["s{:02d},p".format(i) for i in range(12)],
     "no column 'patiant'. Did you mean 'patient'?"),
    (["--folds", "3", "--val_ratio", "0.2"], None, "--folds and --val_ratio/--test_ratio"),
])
def test_mistakes_are_user_errors(tmp_path, extra, csv_rows, message):
    file_list, _ = make_list(tmp_path / "d", 12)
    if csv_rows:
        (tmp_path / "g.csv").write_text("\n".join(csv_rows) + "\n")
        extra = extra + ["--groups", str(tmp_path / "g.csv")]
    with pytest.raises(UserError, match=message):
        split_dataset.main(["--file_list", file_list, "--save_dir", str(tmp_path / "s")] + extra)
    assert not (tmp_path / "s").exists()
