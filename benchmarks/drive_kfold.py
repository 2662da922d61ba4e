"""4-fold cross-validation of a DRIVE recipe on the 20 DRIVE training images (issue 14).

Fold k (1-4) holds out the 5 consecutive ids 21+5(k-1) .. 25+5(k-1) (`val_ids` of both datasets) and
trains on the other 15, evaluating on the held-out 5 at the config's save points (`do_eval=True`, for
the curves; evaluation does not change the weights). `train` runs the folds through tools/train.py
(`--resume_model auto`: an interrupted fold goes on from its last checkpoint), `--parallel` at a time, each
pinned to its own core (two 1-thread processes train ~1.6x more iterations per second on 2 cores than
one 2-thread process; the recipe's weights do not depend on it). `report` evaluates each fold's final
checkpoint on its held-out images, with the config's flip averaging and with one pass, and prints
per-fold, mean +/- std and pooled vessel metrics inside the FOV, plus the F1 at a threshold chosen
without the fold (on the other folds' held-out predictions).

    python benchmarks/drive_kfold.py train --config configs/drive_cpu/unet_drive_cpu.yml --out out/kf/r60
    python benchmarks/drive_kfold.py report --out out/kf/r60

Every metric comes from per-image histograms of the vessel probability (`AucHistogram`, 65536 bins):
"argmax" is p >= 0.5, AUC is the histogram AUC `tools/val.py` reports.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

from paddleseg_lite.utils.metrics import AucHistogram, binary_metrics, histogram_auc  # noqa: E402
from paddleseg_lite.utils.metrics.threshold import best_f1_threshold  # noqa: E402

DATA = os.path.join(ROOT, "..", "shared", "data", "DRIVE-training")
BINS = 65536
FOLDS = (1, 2, 3, 4)


def fold_ids(fold):
    return [21 + 5 * (fold - 1) + i for i in range(5)]


def train_command(args, fold):
    ids = str(fold_ids(fold)).replace(" ", "")
    return [sys.executable, os.path.join(ROOT, "tools", "train.py"), "--config", args.config, "--device", "cpu",
            "--save_dir", os.path.join(args.out, "fold{}".format(fold)), "--resume_model", "auto", "--opts",
            "train_dataset.dataset_root=" + args.data, "val_dataset.dataset_root=" + args.data,
            "train_dataset.val_ids=" + ids, "val_dataset.val_ids=" + ids, "do_eval=True"] + args.opts


def train(args):
    """Train the folds, `--parallel` at a time, process i pinned to core i; record each wall time."""
    pending, running = list(args.folds), []
    while pending or running:
        while pending and len(running) < args.parallel:
            fold, core = pending.pop(0), len(running)
            os.makedirs(os.path.join(args.out, "fold{}".format(fold)), exist_ok=True)
            log = open(os.path.join(args.out, "fold{}".format(fold), "stdout.log"), "w")
            proc = subprocess.Popen(["taskset", "-c", str(core)] + train_command(args, fold), stdout=log,
                                    stderr=subprocess.STDOUT, cwd=ROOT)
            running.append((fold, proc, time.time()))
        time.sleep(5)
        for item in [r for r in running if r[1].poll() is not None]:
            fold, proc, start = item
            running.remove(item)
            with open(os.path.join(args.out, "fold{}".format(fold), "wall.json"), "w") as f:
                json.dump({"seconds": time.time() - start, "returncode": proc.returncode}, f)
            print("fold {}: exit {} after {:.1f} min".format(fold, proc.returncode, (time.time() - start) / 60))


def fold_histograms(fold_dir, flips):
    """Per held-out image: (name, (2, BINS) vessel-probability counts [negatives, positives] inside the FOV)."""
    import paddle
    from paddleseg_lite.models.outputs import logits_to_prob
    from paddleseg_lite.core.inference_options import InferenceOptions
    from paddleseg_lite.core.loader import ShardBatchSampler, build_loader
    from paddleseg_lite.cvlibs import Config
    from paddleseg_lite.models import load_entire_model

    cfg = Config(os.path.join(fold_dir, "config.yml"))
    model = cfg.model
    load_entire_model(model, os.path.join(fold_dir, "iter_{}".format(cfg.iters), "model.pdparams"))
    model.eval()
    options = InferenceOptions.from_test_config(cfg.test_config) if flips else InferenceOptions()
    dataset = cfg.val_dataset
    result = []
    with paddle.no_grad():
        for data in build_loader(dataset, ShardBatchSampler(len(dataset), 0, 1), 0):
            trans_info = data["trans_info"][0] if data.get("trans_info") else None
            prob = logits_to_prob(options.logits(model, data["img"], trans_info)).numpy()[0]
            hist = AucHistogram(2, BINS, dataset.ignore_index)
            hist.update(prob, data["label"].numpy()[0, 0], mask=data["fov"].numpy()[0, 0])
            result.append((os.path.basename(str(data["img_path"][0])), hist.counts[0]))
    return result


def scores(counts, threshold_bin=BINS // 2):
    """Vessel F1/Se/Sp/Acc/AUC of (2, BINS) counts with 'vessel' = probability bin >= threshold_bin."""
    neg, pos = counts
    tp, fp = int(pos[threshold_bin:].sum()), int(neg[threshold_bin:].sum())
    m = binary_metrics(tp, fp, int(pos.sum()) - tp, int(neg.sum()) - fp)
    return {"F1": m["dice"], "Se": m["sensitivity"], "Sp": m["specificity"], "Acc": m["accuracy"],
            "AUC": histogram_auc(neg, pos)}


def best_threshold_bin(counts):
    """The bin edge maximising F1 of `counts` (`best_f1_threshold`, val's --threshold auto)."""
    return int(round(best_f1_threshold(counts)["threshold"] * BINS))


def summarize(per_fold):
    """Per-fold (pooled over its images), mean +/- std over folds, pooled over all images; nested thresholds,
    and the threshold for a model trained on all the images (`ship_threshold`: F1-optimal on every held-out
    prediction of the folds, so chosen on images each fold's model never saw)."""
    rows = {fold: scores(sum(c for _, c in images)) for fold, images in per_fold.items()}
    everything = sum(c for images in per_fold.values() for _, c in images)
    pooled, ship = scores(everything), best_threshold_bin(everything)
    nested = {}
    for fold, images in per_fold.items() if len(per_fold) > 1 else ():
        others = sum(c for f, imgs in per_fold.items() if f != fold for _, c in imgs)
        t, own = best_threshold_bin(others), sum(c for _, c in images)
        nested[fold] = dict(scores(own, t), threshold=t / BINS, own_best_f1=scores(own, best_threshold_bin(own))["F1"])
    keys = ("F1", "Se", "Sp", "Acc", "AUC")
    mean = {k: float(np.mean([r[k] for r in rows.values()])) for k in keys}
    std = {k: float(np.std([r[k] for r in rows.values()], ddof=1)) for k in keys}
    return {"folds": rows, "mean": mean, "std": std, "pooled": pooled, "nested_threshold": nested,
            "ship_threshold": dict(threshold=ship / BINS, pooled_f1=scores(everything, ship)["F1"]),
            "per_image": {f: {name: scores(c)["F1"] for name, c in images} for f, images in per_fold.items()}}


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


def table(summary, title):
    lines = ["### " + title, "", "| fold (held-out ids) | F1 | Se | Sp | Acc | AUC |", "|---|---|---|---|---|---|"]
    for fold, r in summary["folds"].items():
        ids = fold_ids(int(fold))
        lines.append("| {} ({}-{}) | {F1:.4f} | {Se:.4f} | {Sp:.4f} | {Acc:.4f} | {AUC:.4f} |".format(
            fold, ids[0], ids[-1], **r))
    m, s = summary["mean"], summary["std"]
    lines.append("| mean +/- std over folds | " + " | ".join(
        "{:.4f} +/- {:.4f}".format(m[k], s[k]) for k in ("F1", "Se", "Sp", "Acc", "AUC")) + " |")
    lines.append("| pooled (all held-out pixels) | {F1:.4f} | {Se:.4f} | {Sp:.4f} | {Acc:.4f} | {AUC:.4f} |".format(
        **summary["pooled"]))
    nested = summary["nested_threshold"]
    lines += [""] if not nested else ["", "Threshold chosen on the other folds' held-out images: " + ", ".join(
        "fold {} t={:.3f} F1 {:.4f} (its own best {:.4f})".format(f, r["threshold"], r["F1"], r["own_best_f1"])
        for f, r in nested.items()) +
        "; mean F1 {:.4f}".format(np.mean([r["F1"] for r in nested.values()])), ""]
    ship = summary["ship_threshold"]
    lines += ["Threshold for the model trained on all images (F1-optimal on all held-out pixels): {:.4f} "
              "(pooled F1 at it {:.4f})".format(ship["threshold"], ship["pooled_f1"]), ""]
    return "\n".join(lines)


def report(args):
    folds = [f for f in FOLDS if os.path.isfile(os.path.join(args.out, "fold{}".format(f), "config.yml"))]
    out = {}
    for flips in (True, False):
        per_fold = {f: fold_histograms(os.path.join(args.out, "fold{}".format(f)), flips) for f in folds}
        out["flips" if flips else "one_pass"] = summarize(per_fold)
    out["curves"] = {f: eval_curve(os.path.join(args.out, "fold{}".format(f))) for f in folds}
    out["wall_s"] = {f: json.load(open(os.path.join(args.out, "fold{}".format(f), "wall.json")))["seconds"]
                     for f in folds if os.path.isfile(os.path.join(args.out, "fold{}".format(f), "wall.json"))}
    with open(os.path.join(args.out, "kfold.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(table(out["flips"], "Flip-averaged (the config's test_config), argmax"))
    print(table(out["one_pass"], "One pass, argmax"))
    for fold, curve in out["curves"].items():
        print("fold {} curve (iter F1 AUC): {}".format(fold, " ".join("{}:{:.3f}/{:.3f}".format(*c) for c in curve)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--config", required=True)
    t.add_argument("--folds", type=int, nargs="+", default=list(FOLDS), choices=FOLDS)
    t.add_argument("--parallel", type=int, default=2)
    t.add_argument("--opts", nargs="*", default=[], help="more --opts for tools/train.py (a variant to compare)")
    r = sub.add_parser("report")
    for q in (t, r):
        q.add_argument("--out", required=True, help="run folder: fold1/ .. fold4/ under it")
        q.add_argument("--data", default=DATA, help="the flat DRIVE training folder (images/ 1st_manual/ mask/)")
    args = p.parse_args()
    train(args) if args.command == "train" else report(args)


if __name__ == "__main__":
    main()
