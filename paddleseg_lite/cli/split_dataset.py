"""Write split lists: train/val/test, or k folds for cross-validation (`paddleseg_lite split-dataset`).

    paddleseg_lite split-dataset --config my.yml --folds 5 --save_dir data/splits
    paddleseg_lite split-dataset --file_list data/x/train_list.txt --val_ratio 0.2 --save_dir data/x/splits

The samples come from a config's train_dataset (built, so any dataset type with files works; `--include_val`
adds its val_dataset's) or from a PaddleSeg file list. The lists are PaddleSeg file lists (`image label
[fov]`, relative to the dataset's dataset_root), what every dataset reads through `train_path` / `val_path` /
`test_path`: all.txt, then train.txt val.txt [test.txt], or fold_<i>/train.txt + fold_<i>/val.txt (i = 1..k,
every sample in exactly one val fold). splits.json records the seed, the counts and the command. The
assignment (seeded, stratified, groups kept together) is `datasets.splits.assign_bins`.
"""
import argparse
import collections
import csv
import json
import os
import shlex
import sys

from paddleseg_lite import cli
from paddleseg_lite.cvlibs import Config
from paddleseg_lite.cvlibs.builtin_configs import CONFIG_HELP
from paddleseg_lite.datasets.dataset import read_file_list
from paddleseg_lite.datasets.splits import assign_bins
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.fileio import writing
from paddleseg_lite.utils.validate import check_number, did_you_mean


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help=CONFIG_HELP + ": split its train_dataset's samples")
    source.add_argument("--file_list", help="a PaddleSeg list file (`image label [fov]` lines) to split")
    p.add_argument("--dataset_root", default=None, help="--file_list's entries are relative to it (default: the "
                   "list's folder)")
    p.add_argument("--include_val", action="store_true", help="--config: also the val_dataset's samples")
    p.add_argument("--opts", nargs="+", default=None, help="--config overrides: key.subkey=value ...")
    p.add_argument("--save_dir", required=True, help="where the lists and splits.json go")
    p.add_argument("--folds", type=int, default=None, help="k: write fold_1 .. fold_k (train.txt + val.txt)")
    p.add_argument("--val_ratio", type=float, default=None, help="share of samples in val.txt (default 0.2)")
    p.add_argument("--test_ratio", type=float, default=None, help="share of samples in test.txt (default 0)")
    p.add_argument("--seed", type=int, default=0, help="seeds the shuffle: the same seed gives the same lists")
    p.add_argument("--groups", default=None, help="CSV with a header row: image stem, then group columns")
    p.add_argument("--stratify", nargs="?", const="", default=None, metavar="COLUMN",
                   help="each split gets each group of COLUMN (default: the 2nd column of --groups) in proportion")
    p.add_argument("--group_by", default=None, metavar="COLUMN",
                   help="samples with the same value of COLUMN (e.g. patient id) stay in one split")
    return p.parse_args(argv)


def check_args(args):
    if args.folds is not None and (args.val_ratio is not None or args.test_ratio):
        raise UserError("--folds and --val_ratio/--test_ratio are two kinds of split; give one")
    if args.folds is None:
        args.val_ratio = 0.2 if args.val_ratio is None else args.val_ratio
        args.test_ratio = args.test_ratio or 0.0
        for flag in ("val_ratio", "test_ratio"):
            check_number("split-dataset", "--" + flag, getattr(args, flag), 0, 1, high_open=True, error=UserError)
        if not 0 < args.val_ratio + args.test_ratio < 1:
            raise UserError("--val_ratio {} + --test_ratio {}: their sum must be in (0, 1), a training share left"
                            .format(args.val_ratio, args.test_ratio))
    elif args.folds < 2:
        raise UserError("--folds {}: cross-validation needs k >= 2 folds".format(args.folds))
    if (args.stratify is not None or args.group_by) and not args.groups:
        raise UserError("--stratify / --group_by name a column of --groups; give --groups FILE.csv")
    if args.dataset_root and not args.file_list:
        raise UserError("--dataset_root goes with --file_list (a config's dataset has its own dataset_root)")


def collect_samples(args):
    """(dataset_root, [Sample]) of the source, each image once, in its order."""
    if args.file_list:
        if not os.path.isfile(args.file_list):
            raise UserError("--file_list {}: file not found".format(args.file_list))
        root = args.dataset_root or os.path.dirname(os.path.abspath(args.file_list))
        return root, read_file_list(args.file_list, root)
    cfg = Config(args.config, opts=args.opts)
    datasets = [("train_dataset", cfg.train_dataset)] + ([("val_dataset", cfg.val_dataset)] if args.include_val else [])
    root, samples = None, {}
    for key, dataset in datasets:
        if getattr(dataset, "file_list", None) is None:
            raise UserError("{} ({}) has no sample files to list (its images are made on the fly); write them to "
                            "files first (e.g. tools/make_synthetic_data.py)".format(key, type(dataset).__name__))
        root = root or dataset.dataset_root
        if os.path.abspath(dataset.dataset_root) != os.path.abspath(root):
            raise UserError("--include_val: val_dataset.dataset_root '{}' is not train_dataset's '{}'; the lists "
                            "are relative to one dataset_root".format(dataset.dataset_root, root))
        samples.update((os.path.abspath(s.img), s) for s in dataset.file_list)
    return root, list(samples.values())


def stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def read_groups(path, samples, columns):
    """{column: [value per sample]} of `columns` from the groups CSV (header row, first column = image stem)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except OSError as e:
        raise UserError("--groups {}: cannot read it ({})".format(path, e.strerror)) from e
    if len(rows) < 2 or len(rows[0]) < 2:
        raise UserError("--groups {}: expected a header row (stem,group,...) and one row per image".format(path))
    header = [c.strip() for c in rows[0]]
    table = {r[0].strip(): [c.strip() for c in r] for r in rows[1:]}
    stems = [stem(s.img) for s in samples]
    doubles = sorted(s for s, n in collections.Counter(stems).items() if n > 1)
    unknown, missing = sorted(set(table) - set(stems)), sorted(set(stems) - set(table))
    for names, what in ((doubles, "stems shared by several images (cannot match the CSV by stem)"),
                        (unknown, "stems not among the dataset's images"), (missing, "images missing from it")):
        if names:
            raise UserError("--groups {}: {} {}: {}".format(path, len(names), what, ", ".join(names[:5])))
    result = {}
    for column in columns:
        if column not in header[1:]:
            raise UserError("--groups {}: no column '{}'.{} Columns: {}".format(
                path, column, did_you_mean(column, header[1:]), ", ".join(header[1:])))
        index = header.index(column)
        result[column] = [table[s][index] if index < len(table[s]) else "" for s in stems]
    return result


def split(args, samples, groups):
    """{list name (e.g. 'fold_2/val.txt'): [sample index]} of the requested split."""
    strata = groups.get(args.stratify) if args.stratify is not None else None
    units = groups.get(args.group_by) if args.group_by else None
    count = len(set(units)) if units else len(samples)
    what = "groups of --group_by {}".format(args.group_by) if units else "samples"
    if args.folds:
        if args.folds > count:
            raise UserError("--folds {}: more folds than the {} {}; use --folds <= {}".format(
                args.folds, count, what, count))
        bins = assign_bins(len(samples), [1] * args.folds, args.seed, strata, units)
        lists = {}
        for fold in range(args.folds):
            lists["fold_{}/train.txt".format(fold + 1)] = [i for i, b in enumerate(bins) if b != fold]
            lists["fold_{}/val.txt".format(fold + 1)] = [i for i, b in enumerate(bins) if b == fold]
        return lists
    names = [n for n, w in (("train.txt", 1 - args.val_ratio - args.test_ratio), ("val.txt", args.val_ratio),
                            ("test.txt", args.test_ratio)) if w > 0]
    weights = [1 - args.val_ratio - args.test_ratio, args.val_ratio, args.test_ratio]
    bins = assign_bins(len(samples), [w for w in weights if w > 0], args.seed, strata, units)
    lists = {name: [i for i, b in enumerate(bins) if b == k] for k, name in enumerate(names)}
    empty = [name for name, indices in lists.items() if not indices]
    if empty:
        raise UserError("{} of {} {} would be empty with --val_ratio {} --test_ratio {}; raise the ratio".format(
            empty[0], count, what, args.val_ratio, args.test_ratio))
    return lists


def list_line(sample, root):
    """`image label [fov]` relative to `root` (absolute for a file outside it)."""
    def rel(path):
        relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
        return os.path.abspath(path) if relative.startswith(os.pardir) else relative.replace(os.sep, "/")
    return " ".join(rel(p) for p in (sample.img, sample.label, sample.fov) if p is not None)


def write_text(path, text):
    """Write `text` to `path` atomically (a temporary renamed into place)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with writing(tmp, path):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    os.replace(tmp, path)


def group_counts(indices, groups, column):
    return dict(sorted(collections.Counter(groups[column][i] for i in indices).items())) if column else None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    check_args(args)
    root, samples = collect_samples(args)
    if args.groups:
        if args.stratify == "":
            args.stratify = _second_column(args.groups)
        groups = read_groups(args.groups, samples, [c for c in (args.stratify, args.group_by) if c])
    else:
        groups = {}
    lists = split(args, samples, groups)
    cli.check_save_dir(args.save_dir)
    lines = [list_line(s, root) for s in samples]
    for name, indices in dict({"all.txt": range(len(samples))}, **lists).items():
        write_text(os.path.join(args.save_dir, name), "".join(lines[i] + "\n" for i in indices))
    record = {"seed": args.seed, "k": args.folds, "val_ratio": args.val_ratio, "test_ratio": args.test_ratio,
              "dataset_root": os.path.abspath(root), "num_samples": len(samples),
              "stratify": args.stratify, "group_by": args.group_by,
              "counts": {name: len(indices) for name, indices in lists.items()},
              "strata": {name: group_counts(indices, groups, args.stratify) for name, indices in lists.items()}
              if args.stratify else None,
              "command": "{} {}".format(sys.argv[0], shlex.join(argv))}
    write_text(os.path.join(args.save_dir, "splits.json"), json.dumps(record, indent=1) + "\n")
    print(summary(record, args.save_dir))


def _second_column(path):
    with open(path, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f), [])
    if len(header) < 2:
        raise UserError("--groups {}: expected a header row (stem,group,...)".format(path))
    return header[1].strip()


def summary(record, save_dir):
    """The lines printed at the end: what was split, and each list's size (and strata)."""
    kind = "{} folds".format(record["k"]) if record["k"] else "val_ratio {} test_ratio {}".format(
        record["val_ratio"], record["test_ratio"])
    lines = ["split-dataset: {} samples of {} -> {} (seed {}{}{}), lists in {}".format(
        record["num_samples"], record["dataset_root"], kind, record["seed"],
        ", stratified by " + record["stratify"] if record["stratify"] else "",
        ", grouped by " + record["group_by"] if record["group_by"] else "", save_dir)]
    for name, count in record["counts"].items():
        strata = record["strata"][name] if record["strata"] else None
        lines.append("  {:<16} {:>5}{}".format(name, count, "  " + json.dumps(strata) if strata else ""))
    return "\n".join(lines)
