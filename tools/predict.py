"""Predict images with trained weights: `paddleseg_lite predict` (paddleseg_lite/cli/predict.py, same flags).

Kept as PaddleSeg's tools/predict.py: it puts this clone first on sys.path, so it runs without installing.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddleseg_lite import cli  # noqa: E402
from paddleseg_lite.cli import predict  # noqa: E402

if __name__ == "__main__":
    cli.run(predict.main)
