"""Convert the original DRIVE archive (zip or extracted folder) to the file-list layout.

    python tools/prepare_drive.py --src DRIVE.zip --out data/DRIVE [--val_ids 37 38 39 40]

Output (what `type: DRIVE` and `type: Dataset` read):
    images/<name>.png        RGB fundus images (from the .tif files)
    annotations/<name>.png   vessel labels 0/1 (from 1st_manual/*.gif, 0/255)
    masks/<name>.png         field-of-view masks 0/255 (from mask/*.gif)
    train_list.txt, val_list.txt   `images/x.png annotations/x.png masks/x.png` lines
    test_list.txt            the archive's test split, when it has one
The split is the DRIVE dataset's own rule (val = the test split when it has labels, or `--val_ids`
held out of the training images). The output is written into a temporary folder and renamed into
place, so a failed run leaves nothing half-written; running it again rebuilds the same files.
"""
import argparse
import os
import shutil
import tempfile

import cv2

from paddleseg_lite.datasets import DRIVE
from paddleseg_lite.datasets.download import extract_atomically, looks_like_zip
from paddleseg_lite.transforms import io
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.progress import track


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", required=True, help="DRIVE.zip or the extracted DRIVE folder")
    parser.add_argument("--out", default="data/DRIVE", help="output folder (default data/DRIVE)")
    parser.add_argument("--val_ids", nargs="+", type=int, default=None,
                        help="training image ids held out for val (default: the test split)")
    return parser.parse_args(argv)


def find_drive_root(folder):
    """The folder holding training/images (archive) or images/ + 1st_manual/ (flat), searched top-down."""
    for path, dirs, _ in os.walk(folder):
        dirs.sort()
        if os.path.isdir(os.path.join(path, "training", "images")) or (
                "images" in dirs and "1st_manual" in dirs):
            return path
    raise UserError("--src '{}': no DRIVE folder found (expected training/images/*_training.tif, or "
                    "images/ and 1st_manual/)".format(folder))


def convert_split(root, mode, val_ids, out_dir):
    """Write one split's files under out_dir; return its list lines."""
    dataset = DRIVE(root, mode=mode, val_ids=val_ids)
    lines = []
    for sample in track(dataset.file_list, "prepare-drive {}".format(mode), "img"):
        name = os.path.splitext(os.path.basename(sample.img))[0]
        columns = [_write(out_dir, "images", name, io.read_image(sample.img, to_rgb=False))]
        if sample.label is not None:
            columns.append(_write(out_dir, "annotations", name, (io.read_label(sample.label) > 0) * 1))
            if sample.fov is not None:
                columns.append(_write(out_dir, "masks", name, io.read_fov(sample.fov) * 255))
        lines.append(" ".join(columns))
    return lines


def _write(out_dir, sub, name, array):
    rel = "{}/{}.png".format(sub, name)
    os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    if not cv2.imwrite(os.path.join(out_dir, rel), array.astype("uint8")):
        raise UserError("cannot write '{}'".format(os.path.join(out_dir, rel)))
    return rel


def build(root, val_ids, out_dir):
    """Write every split of the DRIVE folder `root` into out_dir."""
    splits = [("train", "train_list.txt"), ("val", "val_list.txt")]
    if os.path.isdir(os.path.join(root, "test", "images")):
        splits.append(("test", "test_list.txt"))
    for mode, list_name in splits:
        lines = convert_split(root, mode, val_ids, out_dir)
        with open(os.path.join(out_dir, list_name), "w") as f:
            f.write("\n".join(lines) + "\n")
        logger.info("{}: {} samples".format(list_name, len(lines)))


def replace_dir(new, out):
    """Move `new` to `out`, replacing an earlier prepare_drive output there."""
    if not os.path.exists(out):
        os.rename(new, out)
        return
    old = tempfile.mkdtemp(prefix=".prepare_drive-old-", dir=os.path.dirname(out))
    os.rename(out, os.path.join(old, "out"))
    os.rename(new, out)
    shutil.rmtree(old)


def check_out(out):
    if os.path.exists(out) and os.listdir(out) and not os.path.isfile(os.path.join(out, "train_list.txt")):
        raise UserError("--out '{}' exists and is not a prepare_drive output (no train_list.txt); "
                        "choose another --out or empty it".format(out))


def prepare(src, out, val_ids=None):
    """Convert `src` (zip or folder) into `out`, atomically."""
    if not os.path.exists(src):
        raise UserError("--src '{}' does not exist; give DRIVE.zip or its extracted folder".format(src))
    out = os.path.abspath(out)
    check_out(out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".prepare_drive-", dir=parent)
    try:
        source = src
        if os.path.isfile(src) and looks_like_zip(src):
            source = os.path.join(work, "src")
            extract_atomically(src, source)
        elif not os.path.isdir(src):
            raise UserError("--src '{}' is neither a zip file nor a folder".format(src))
        staged = os.path.join(work, "out")
        os.makedirs(staged)
        build(find_drive_root(source), val_ids, staged)
        replace_dir(staged, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info("DRIVE prepared in {} (use dataset_root: {})".format(out, out))


def main(argv=None):
    args = parse_args(argv)
    prepare(args.src, args.out, args.val_ids)
