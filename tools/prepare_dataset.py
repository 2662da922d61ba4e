"""Convert a vessel archive: `paddleseg_lite prepare-dataset` (paddleseg_lite/cli/prepare_dataset.py, same flags).

It puts this clone first on sys.path, so it runs without installing.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddleseg_lite import cli  # noqa: E402
from paddleseg_lite.cli import prepare_dataset  # noqa: E402

if __name__ == "__main__":
    cli.run(prepare_dataset.main)
