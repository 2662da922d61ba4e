"""Convert a folder of masks (0/255, palette or colour) into class-id PNGs with an explicit mapping.

    python tools/convert_labels.py --src raw_masks --out masks --map 0:0 255:1
    python tools/convert_labels.py --src colour_masks --out masks --map 0,0,0:0 255,0,0:1 0,255,0:2

`--map` is `utils.labels.LabelMap` (the rule of the datasets' `label_map` option): keys are stored
values (the gray value; a palette PNG's palette index) or `R,G,B` colours, values class ids (255 =
ignore_index). Every image file of `--src` (.png .jpg .tif .gif .bmp ..., any case; not recursive)
becomes `--out/<stem>.png`, single-channel uint8 class ids (what `Dataset` and `FolderDataset` read).
Values the mapping does not cover are refused, all of them in one line with their files, and then
nothing is written: every file is converted into a temporary folder inside `--out` first, then moved.
"""
import argparse
import os
import shutil
import tempfile

import numpy as np

from paddleseg_lite.cli import check_save_dir
from paddleseg_lite.datasets.folder import scan_folder, shown
from paddleseg_lite.transforms import io
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.imageio import write_image
from paddleseg_lite.utils.labels import LabelMap
from paddleseg_lite.utils.progress import track

LABEL = "convert-labels"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", required=True, help="folder of mask images to convert")
    parser.add_argument("--out", required=True, help="output folder of <stem>.png class-id labels")
    parser.add_argument("--map", nargs="+", required=True, metavar="KEY:CLASS",
                        help="stored value (or R,G,B colour) : class id, e.g. 0:0 255:1; 255 as the class "
                             "ignores those pixels")
    return parser.parse_args(argv)


def parse_map(items):
    """`--map` items ('255:1', '255,0,0:1') as a LabelMap; UserError naming --map when malformed."""
    mapping = {}
    for item in items:
        key, sep, value = item.rpartition(":")
        if not sep or not key or not value.strip().isdigit():
            raise UserError("--map {}: expected KEY:CLASS such as 255:1 (or R,G,B:CLASS such as 255,0,0:1)".format(
                item))
        if key in mapping:
            raise UserError("--map names {} twice".format(key))
        mapping[key] = int(value)
    label_map = LabelMap(mapping, "--map", UserError)
    too_big = [int(t) for t in label_map.targets if t > 255]
    if too_big:
        raise UserError("--map: class ids {} do not fit a uint8 label PNG; use ids 0-255".format(too_big))
    return label_map


def source_files(src):
    """{stem: path} of the image files in the folder `src`."""
    if not os.path.isdir(src):
        raise UserError("--src {}: not a folder; give the folder of masks to convert".format(src))
    files, skipped = scan_folder(src, "", "--src")
    if skipped:
        logger.warning("{}: {} file(s) in {} are not images and are skipped: {}".format(
            LABEL, len(skipped), src, shown(skipped)))
    if not files:
        raise UserError("--src {}: no image files (.png .jpg .tif .gif .bmp ...) found".format(src))
    return files


def convert(files, label_map, staging):
    """Write each file's class ids into `staging`; returns (pixels per class id, [(name, uncovered values)])."""
    counts, problems = np.zeros(256, np.int64), []
    for stem, path in track(sorted(files.items()), LABEL, "img"):
        raw = io.read_label_keys(path, label_map)
        uncovered = label_map.unmapped(raw)
        if uncovered:
            problems.append((os.path.basename(path), uncovered))
        elif not problems:  # after the first problem nothing will be written: only look for more
            label = label_map.apply(raw, path).astype(np.uint8)
            counts += np.bincount(label.ravel(), minlength=256)
            write_image(os.path.join(staging, stem + ".png"), label)
    return counts, problems


def refuse(problems, total, label_map):
    values = sorted({v for _, found in problems for v in found}, key=lambda v: [int(x) for x in v.split(",")])
    files = ["{} ({})".format(name, label_map.join(found)) for name, found in problems]
    raise UserError("--map {!r} does not cover values [{}] found in {} of {} files: {}; add them to --map (a "
                    "class, or 255 to ignore those pixels); nothing was written".format(
                        label_map, label_map.join(values), len(problems), total, shown(files)))


def main(argv=None):
    args = parse_args(argv)
    label_map = parse_map(args.map)
    files = source_files(args.src)
    if os.path.realpath(args.out) == os.path.realpath(args.src):
        raise UserError("--out {}: is --src; write the converted labels to another folder (the originals "
                        "are kept)".format(args.out))
    check_save_dir(args.out, "--out")
    made = not os.path.isdir(args.out)
    os.makedirs(args.out, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".convert_labels.tmp-", dir=args.out)
    try:
        counts, problems = convert(files, label_map, staging)
        if problems:
            refuse(problems, len(files), label_map)
        for name in sorted(os.listdir(staging)):
            os.replace(os.path.join(staging, name), os.path.join(args.out, name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if made and not os.listdir(args.out):
            os.rmdir(args.out)
    share = ", ".join("{}: {:.2f}%".format(c, 100.0 * counts[c] / counts.sum()) for c in np.flatnonzero(counts))
    logger.info("{}: wrote {} class-id PNGs to {} (pixels per class: {})".format(LABEL, len(files), args.out, share))
