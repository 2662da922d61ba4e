"""Show the resolved config: `paddleseg_lite print-config` (paddleseg_lite/cli/print_config.py, same flags).

Kept as PaddleSeg's tools/print_config.py: it puts this clone first on sys.path, so it runs without installing.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddleseg_lite import cli  # noqa: E402
from paddleseg_lite.cli import print_config  # noqa: E402

if __name__ == "__main__":
    cli.run(print_config.main)
