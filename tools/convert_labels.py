"""Convert masks to class-id PNGs: `paddleseg_lite convert-labels` (paddleseg_lite/cli/convert_labels.py, same flags).

A tools/ script like the others: it puts this clone first on sys.path, so it runs without installing.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddleseg_lite import cli  # noqa: E402
from paddleseg_lite.cli import convert_labels  # noqa: E402

if __name__ == "__main__":
    cli.run(convert_labels.main)
