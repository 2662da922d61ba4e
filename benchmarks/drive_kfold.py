"""4-fold cross-validation of a DRIVE recipe on the 20 DRIVE training images (issue 14), with folds of
consecutive ids, through the product's `paddleseg_lite cross-validate`.

Fold k (1-4) holds out the 5 ids 21+5(k-1) .. 25+5(k-1) and trains on the other 15. The script writes
those split lists (OUT/splits/fold_k/train.txt, val.txt) and runs `cross-validate` on them: the folds
not yet finished are trained `--parallel` at a time, each process on its own core (two 1-thread processes
train ~1.6x more iterations per second on 2 cores than one 2-thread process; the weights do not depend on
it), resumably; then every fold's final checkpoint is evaluated on its held-out images with the config's
test_config, and OUT/cv_summary.json and .md (cv_summary_folds_1_2.* for `--folds 1 2`) hold the per-fold,
mean +/- std, pooled and nested-threshold numbers (`core.cross_val`). The folds also evaluate at the config's
save points (`do_eval=True`): the script prints those curves last. Run it again on a finished OUT to print
the report without training.

    python benchmarks/drive_kfold.py --config configs/drive_cpu/unet_drive_cpu.yml --out out/kf/r60
    python benchmarks/drive_kfold.py --config X.yml --out out/kf/x --folds 1 2   # a lever, on folds 1-2
"""
import argparse
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

from paddleseg_lite import cli  # noqa: E402
from paddleseg_lite.cli import cross_validate  # noqa: E402

DATA = os.path.join(ROOT, "..", "shared", "data", "DRIVE-training")
IDS = range(21, 41)
FOLDS = (1, 2, 3, 4)


def fold_ids(fold):
    return [21 + 5 * (fold - 1) + i for i in range(5)]


def write_splits(folder):
    """fold_k/train.txt and val.txt of DRIVE's training layout (images/, 1st_manual/, mask/), ids ascending."""
    line = "images/{0}_training.tif 1st_manual/{0}_manual1.gif mask/{0}_training_mask.gif\n"
    for fold in FOLDS:
        held_out = fold_ids(fold)
        os.makedirs(os.path.join(folder, "fold_{}".format(fold)), exist_ok=True)
        for name, ids in (("train.txt", [i for i in IDS if i not in held_out]), ("val.txt", held_out)):
            with open(os.path.join(folder, "fold_{}".format(fold), name), "w") as f:
                f.write("".join(line.format(i) for i in ids))


def eval_curve(fold_dir):
    """(iteration, F1, AUC) of the in-training evaluations, parsed from the run's train.log."""
    curve, it = [], None
    with open(os.path.join(fold_dir, "train.log")) as f:
        for line in f:
            if "[TRAIN]" in line and "iter: " in line:
                it = int(line.split("iter: ")[1].split("/")[0])
            elif "Vessel (inside FOV)" in line and "Dice/F1" in line:
                f1 = float(line.split("Dice/F1: ")[1].split()[0])
                auc = float(line.split("AUC: ")[1].split()[0]) if "AUC: " in line else float("nan")
                curve.append((it, f1, auc))
    return curve


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--out", required=True, help="run folder: splits/, fold_1/ .. fold_4/ and cv_summary.* under it")
    p.add_argument("--folds", type=int, nargs="+", default=list(FOLDS), choices=FOLDS)
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--data", default=DATA, help="the flat DRIVE training folder (images/ 1st_manual/ mask/)")
    p.add_argument("--opts", nargs="*", default=[], help="more --opts for every fold (a variant to compare)")
    args = p.parse_args()
    splits = os.path.join(args.out, "splits")
    write_splits(splits)
    cli.run(lambda: cross_validate.main(
        ["--config", args.config, "--splits", splits, "--save_dir", args.out, "--device", "cpu",
         "--parallel", str(args.parallel), "--folds"] + [str(f) for f in args.folds]
        + ["--opts", "train_dataset.dataset_root=" + args.data, "val_dataset.dataset_root=" + args.data,
           "do_eval=True"] + args.opts))
    for fold in args.folds:
        curve = eval_curve(os.path.join(args.out, "fold_{}".format(fold)))
        print("fold {} ({}-{}) curve (iter F1 AUC): {}".format(fold, fold_ids(fold)[0], fold_ids(fold)[-1], " ".join(
            "{}:{:.3f}/{:.3f}".format(*c) for c in curve)))


if __name__ == "__main__":
    main()
