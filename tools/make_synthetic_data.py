"""Write synthetic vessel images: `paddleseg_lite make-synthetic-data` (paddleseg_lite/cli/make_synthetic_data.py, same flags).

Kept as PaddleSeg's tools/make_synthetic_data.py: it puts this clone first on sys.path, so it runs without installing.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddleseg_lite import cli  # noqa: E402
from paddleseg_lite.cli import make_synthetic_data  # noqa: E402

if __name__ == "__main__":
    cli.run(make_synthetic_data.main)
