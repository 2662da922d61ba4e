"""Predict images with an exported model: `paddleseg_lite infer` (paddleseg_lite/cli/infer.py, same flags).

Kept as PaddleSeg's deploy/python/infer.py: it puts this clone first on sys.path, so it runs without installing.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from paddleseg_lite import cli  # noqa: E402
from paddleseg_lite.cli import infer  # noqa: E402

if __name__ == "__main__":
    cli.run(infer.main)
