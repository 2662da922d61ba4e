"""`prepare-drive`: the README's DRIVE conversion, kept as an alias of `prepare-dataset --dataset DRIVE`
(paddleseg_lite/cli/prepare_dataset.py: same flags, same output).

    python tools/prepare_drive.py --src DRIVE.zip --out data/DRIVE [--val_ids 37 38 39 40]
"""
import sys

from paddleseg_lite.cli import prepare_dataset


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    prepare_dataset.main(["--dataset", "DRIVE"] + argv)
