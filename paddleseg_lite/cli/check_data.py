"""Check the datasets of a config before training: counts, sizes, labels, FOV, Normalize stats.

    python tools/check_data.py --config configs/unet_drive_128x128.yml [--max_samples 50]

Reads every sample of train_dataset and val_dataset before transforms, reports image sizes, the
label histogram, FOV coverage and problems (bad files or label values are listed, not fatal, and
make the exit code 2), and prints the per-channel mean/std of the train images (on pixel/255,
inside the FOV when there is one) ready to paste into `Normalize`.
"""
import argparse
import collections

import numpy as np

from paddleseg_lite.cvlibs import Config
from paddleseg_lite.cvlibs.builtin_configs import CONFIG_HELP
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.progress import track


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help=CONFIG_HELP)
    parser.add_argument("--opts", nargs="+", default=None, help="key.subkey=value overrides")
    parser.add_argument("--max_samples", type=int, default=None, help="check at most N samples per split")
    return parser.parse_args(argv)


class SplitStats:
    """Accumulates what check_data reports for one split."""

    def __init__(self, num_classes, ignore_index):
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.sizes = collections.Counter()
        self.label_counts = collections.Counter()
        self.fov_pixels = self.pixels = 0
        self.channel_sum = self.channel_sq = None
        self.channel_n = 0
        self.problems = []
        self.checked = 0

    def add(self, img, label, fov):
        self.checked += 1
        self.sizes[(img.shape[1], img.shape[0])] += 1
        inside = fov.astype(bool) if fov is not None else np.ones(img.shape[:2], bool)
        self.pixels += inside.size
        self.fov_pixels += int(inside.sum())
        values = img[inside].astype(np.float64) / 255.0
        if self.channel_sum is None:
            self.channel_sum, self.channel_sq = np.zeros(values.shape[1]), np.zeros(values.shape[1])
        self.channel_sum += values.sum(axis=0)
        self.channel_sq += (values ** 2).sum(axis=0)
        self.channel_n += len(values)
        if label is not None:
            ids, counts = np.unique(label, return_counts=True)
            self.label_counts.update(dict(zip(ids.tolist(), counts.tolist())))

    def mean_std(self):
        mean = self.channel_sum / self.channel_n
        std = np.sqrt(np.maximum(self.channel_sq / self.channel_n - mean ** 2, 0))
        return mean, std

    def warnings(self):
        found = []
        if len(self.sizes) > 1:
            found.append("images have {} different sizes; val with batch size 1 is fine, but check that "
                         "train crops/resizes to one size".format(len(self.sizes)))
        labelled = {k: v for k, v in self.label_counts.items() if k != self.ignore_index}
        missing = [c for c in range(self.num_classes) if c not in labelled]
        if self.label_counts and missing:
            found.append("classes {} never appear in the labels".format(missing))
        total = sum(labelled.values())
        if total and min(labelled.get(c, 0) for c in range(self.num_classes)) / total < 0.01:
            found.append("a class covers < 1% of labelled pixels: consider DiceLoss or class weights")
        return found


def inspect(dataset, max_samples):
    """Read up to max_samples raw samples of `dataset` into a SplitStats."""
    stats = SplitStats(dataset.num_classes, dataset.ignore_index)
    count = len(dataset) if max_samples is None else min(len(dataset), max_samples)
    for idx in track(range(count), "check-data {}".format(dataset.mode), "img"):
        try:
            img, label, fov, _ = dataset.load_raw(idx)
        except UserError as err:
            stats.problems.append(str(err))
            continue
        stats.add(img, label, fov)
    return stats


def report(name, dataset, stats):
    print("== {}: {} ({} samples, mode {}, {} checked)".format(
        name, type(dataset).__name__, len(dataset), dataset.mode, stats.checked))
    sizes = ", ".join("{}x{} ({})".format(w, h, n) for (w, h), n in stats.sizes.most_common(5))
    print("   image sizes (WxH): {}{}".format(sizes, " ..." if len(stats.sizes) > 5 else ""))
    total = sum(stats.label_counts.values())
    if total:
        hist = ", ".join("{}{}: {:.2%}".format(value, " (ignore)" if value == stats.ignore_index else "", n / total)
                         for value, n in sorted(stats.label_counts.items()))
        print("   label histogram: {}".format(hist))
    if stats.pixels:
        print("   FOV coverage: {:.2%} of pixels".format(stats.fov_pixels / stats.pixels))
    for message in stats.warnings():
        print("   warning: {}".format(message))
    for message in stats.problems:
        print("   problem: {}".format(message))


def print_normalize(stats, has_fov):
    mean, std = stats.mean_std()
    where = "inside the FOV" if has_fov else "all pixels"
    print("== Normalize for these train images (pixel/255, {}):".format(where))
    print("    - type: Normalize")
    print("      mean: [{}]".format(", ".join("{:.4f}".format(m) for m in mean)))
    print("      std: [{}]".format(", ".join("{:.4f}".format(s) for s in std)))


def main(argv=None):
    args = parse_args(argv)
    if args.max_samples is not None and args.max_samples < 1:
        raise UserError("--max_samples must be >= 1, got {}".format(args.max_samples))
    cfg = Config(args.config, opts=args.opts)
    splits = [name for name in ("train_dataset", "val_dataset") if cfg.dic.get(name)]
    if not splits:
        raise UserError("{} has neither train_dataset nor val_dataset".format(args.config))
    problems = 0
    for name in splits:
        dataset = getattr(cfg, name)
        stats = inspect(dataset, args.max_samples)
        report(name, dataset, stats)
        problems += len(stats.problems)
        if name == "train_dataset" and stats.channel_n:
            print_normalize(stats, stats.fov_pixels < stats.pixels)
    if problems:
        raise UserError("{} sample(s) have problems (listed above)".format(problems))
