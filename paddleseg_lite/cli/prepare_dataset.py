"""Convert a vessel dataset's original archive (DRIVE, STARE, CHASE_DB1, HRF) to PaddleSeg's file-list layout.

    python tools/prepare_dataset.py --dataset DRIVE --src DRIVE.zip [--val_ids 37 38 39 40]
    python tools/prepare_dataset.py --dataset STARE --src stare-images.tar labels-ah.tar labels-vk.tar
    python tools/prepare_dataset.py --dataset CHASE_DB1 --src CHASEDB1.zip [--annotator 2]
    python tools/prepare_dataset.py --dataset HRF --src all.zip

--src: the downloaded archives (zip or tar; STARE comes as several tars) or folders of their extracted
files; --out defaults to the dataset's default root (data/DRIVE, data/STARE, data/CHASE_DB1, data/HRF).
Output (what the dataset type and `type: Dataset` read):
    images/<name>.png        RGB fundus images
    annotations/<name>.png   vessel labels 0/1 (from the archive's 0/255 masks, annotator 1 or 2)
    masks/<name>.png         field-of-view masks 0/255: the archive's (DRIVE, HRF), else estimated from each
                             image, as the dataset does on the archive itself (`fov: auto`)
    train_list.txt, val_list.txt   `images/x.png annotations/x.png masks/x.png` lines
    test_list.txt            DRIVE's test split, when the archive has one
The split is the dataset's usual one (`datasets/vessel_archives.py`), or `--val_ids` held out for val. The
datasets also read the extracted archives directly; this is a one-time conversion to PaddleSeg's layout
(the same samples, decoded once). The output is written into a temporary folder and renamed into place,
so a failed run leaves nothing half-written; running it again rebuilds the same files.
"""
import argparse
import os
import shutil
import tempfile

import cv2
import numpy as np

from paddleseg_lite.datasets import CHASEDB1, DRIVE, HRF, STARE
from paddleseg_lite.datasets.dataset import mask_to_classes
from paddleseg_lite.datasets.download import extract_archive, is_archive
from paddleseg_lite.transforms import io
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.progress import track

DATASETS = {"DRIVE": DRIVE, "STARE": STARE, "CHASE_DB1": CHASEDB1, "CHASEDB1": CHASEDB1, "HRF": HRF}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True, choices=sorted(DATASETS), help="which dataset --src holds")
    parser.add_argument("--src", required=True, nargs="+",
                        help="the archive(s) (zip, tar) or folder(s) of their extracted files")
    parser.add_argument("--out", default=None, help="output folder (default: the dataset's, e.g. data/STARE)")
    parser.add_argument("--val_ids", nargs="+", default=None,
                        help="image ids held out for val, e.g. 37 (DRIVE), 162 (STARE), 11L (CHASE_DB1), 06_dr "
                             "(HRF); default: the dataset's usual split")
    parser.add_argument("--annotator", type=int, default=1, choices=(1, 2),
                        help="whose labels: 1 (default) or 2 (STARE vk, CHASE_DB1 2ndHO)")
    return parser.parse_args(argv)


def stage_sources(srcs, work):
    """A folder under `work` holding every source: archives extracted, folders linked."""
    root = os.path.join(work, "src")
    os.makedirs(root)
    for n, src in enumerate(srcs):
        dest = os.path.join(root, "{}-{}".format(n, os.path.basename(os.path.normpath(src))))
        if os.path.isdir(src):
            os.symlink(os.path.abspath(src), dest)
        elif is_archive(src):
            extract_archive(src, dest)
        else:
            raise UserError("--src '{}' is neither a zip or tar archive nor a folder".format(src))
    return root


def open_splits(cls, root, val_ids, annotator):
    """The datasets of each split of the archive under `root`: [(list name, dataset)]."""
    try:
        train = cls(root, mode="train", val_ids=val_ids, annotator=annotator)
        # the same held-out ids and FOV source again, without logging how they were chosen a second time
        rest = dict(val_ids=train.held_out or val_ids, annotator=annotator, fov=train.fov_source.source)
        splits = [("train_list.txt", train), ("val_list.txt", cls(root, mode="val", **rest))]
        if train.separate_test:
            splits.append(("test_list.txt", cls(root, mode="test", **rest)))
    except ValueError as e:  # what the flags set: val_ids, annotator (named as --src, not the staging folder)
        raise UserError("--val_ids / --annotator: {}".format(str(e).replace(root, "--src")))
    return splits


def convert_split(dataset, out_dir, label):
    """Write one split's files under out_dir; return its list lines."""
    lines = []
    for sample in track(dataset.file_list, label, "img"):
        name = sample_name(sample.img)
        rgb = io.read_image(sample.img)
        columns = [_write(out_dir, "images", name, rgb[:, :, ::-1])]
        if sample.label is not None:
            columns.append(_write(out_dir, "annotations", name, mask_to_classes(io.read_label(sample.label))))
            fov = io.read_fov(sample.fov) if sample.fov else dataset.fov_source.mask(sample.img, rgb)
            if fov is not None:
                columns.append(_write(out_dir, "masks", name, fov * 255))
        lines.append(" ".join(columns))
    return lines


def sample_name(path):
    """`im0001` for im0001.ppm.gz, `21_training` for 21_training.tif."""
    name = os.path.basename(path)
    if name.lower().endswith(".gz"):
        name = name[:-3]
    return os.path.splitext(name)[0]


def _write(out_dir, sub, name, array):
    rel = "{}/{}.png".format(sub, name)
    os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    if not cv2.imwrite(os.path.join(out_dir, rel), np.ascontiguousarray(array).astype("uint8")):
        raise UserError("cannot write '{}'".format(os.path.join(out_dir, rel)))
    return rel


def build(cls, root, args, out_dir):
    """Write every split of the archive under `root` into out_dir."""
    archive = cls.ARCHIVE
    folder = archive.locate(root)
    if folder is None or archive.find(folder, 1) is None:
        raise UserError("--src {}: no {} files found (expected {}); is it the {} archive?".format(
            " ".join(args.src), archive.NAME, archive.EXPECTED, args.dataset))
    splits = open_splits(cls, folder, args.val_ids, args.annotator)
    for list_name, dataset in splits:
        lines = convert_split(dataset, out_dir, "prepare-dataset {} {}".format(args.dataset, dataset.mode))
        with open(os.path.join(out_dir, list_name), "w") as f:
            f.write("\n".join(lines) + "\n")
        logger.info("{}: {} samples".format(list_name, len(lines)))
    if splits[0][1].fov_source.source is not None:
        logger.info("masks/: estimated from the images (the archive has no FOV masks)")


def replace_dir(new, out):
    """Move `new` to `out`, replacing an earlier prepare_dataset output there."""
    if not os.path.exists(out):
        os.rename(new, out)
        return
    old = tempfile.mkdtemp(prefix=".prepare_dataset-old-", dir=os.path.dirname(out))
    os.rename(out, os.path.join(old, "out"))
    os.rename(new, out)
    shutil.rmtree(old)


def check_out(out):
    if os.path.exists(out) and os.listdir(out) and not os.path.isfile(os.path.join(out, "train_list.txt")):
        raise UserError("--out '{}' exists and is not a prepare_dataset output (no train_list.txt); "
                        "choose another --out or empty it".format(out))


def prepare(args):
    """Convert args.src (archives or folders) into args.out, atomically."""
    cls = DATASETS[args.dataset]
    for src in args.src:
        if not os.path.exists(src):
            raise UserError("--src '{}' does not exist; give the {} archive or its extracted folder".format(
                src, args.dataset))
    if args.annotator > len(cls.ARCHIVE.ANNOTATORS):
        raise UserError("--annotator {}: {} has one annotator ({})".format(
            args.annotator, args.dataset, cls.ARCHIVE.ANNOTATORS[0]))
    out = os.path.abspath(args.out or cls.DEFAULT_ROOT)
    check_out(out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".prepare_dataset-", dir=parent)
    try:
        root = stage_sources(args.src, work)
        staged = os.path.join(work, "out")
        os.makedirs(staged)
        build(cls, root, args, staged)
        replace_dir(staged, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info("{} prepared in {} (use dataset_root: {})".format(args.dataset, out, out))


def main(argv=None):
    prepare(parse_args(argv))
