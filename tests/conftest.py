"""Test setup: import the package from this checkout and keep Paddle on the CPU."""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

import paddle  # noqa: E402

paddle.set_device("cpu")
