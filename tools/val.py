"""Evaluate weights on the config's val_dataset: `paddleseg_lite val` (paddleseg_lite/cli/val.py, same flags).

Kept as PaddleSeg's tools/val.py: it puts this clone first on sys.path, so it runs without installing.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddleseg_lite import cli  # noqa: E402
from paddleseg_lite.cli import val  # noqa: E402

if __name__ == "__main__":
    cli.run(val.main)
