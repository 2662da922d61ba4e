"""Convert the DRIVE archive: `paddleseg_lite prepare-drive`, an alias of tools/prepare_dataset.py --dataset DRIVE.

Kept as PaddleSeg's tools/prepare_drive.py: it puts this clone first on sys.path, so it runs without installing.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddleseg_lite import cli  # noqa: E402
from paddleseg_lite.cli import prepare_drive  # noqa: E402

if __name__ == "__main__":
    cli.run(prepare_drive.main)
