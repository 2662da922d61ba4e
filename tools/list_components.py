"""List registered components and built-in configs: `paddleseg_lite list` (paddleseg_lite/cli/list_components.py, same flags).

Kept as PaddleSeg's tools/list_components.py: it puts this clone first on sys.path, so it runs without installing.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddleseg_lite import cli  # noqa: E402
from paddleseg_lite.cli import list_components  # noqa: E402

if __name__ == "__main__":
    cli.run(list_components.main)
