"""Check a config's datasets: `paddleseg_lite check-data` (paddleseg_lite/cli/check_data.py, same flags).

Kept as PaddleSeg's tools/check_data.py: it puts this clone first on sys.path, so it runs without installing.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddleseg_lite import cli  # noqa: E402
from paddleseg_lite.cli import check_data  # noqa: E402

if __name__ == "__main__":
    cli.run(check_data.main)
