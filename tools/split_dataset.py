"""Write train/val/test or k-fold split lists: `paddleseg_lite split-dataset` (paddleseg_lite/cli/split_dataset.py,
same flags). It puts this clone first on sys.path, so it runs without installing.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddleseg_lite import cli  # noqa: E402
from paddleseg_lite.cli import split_dataset  # noqa: E402

if __name__ == "__main__":
    cli.run(split_dataset.main)
