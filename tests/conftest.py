"""Test setup: import the package from this checkout and keep Paddle on the CPU; shared fixtures."""
import logging
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

import paddle  # noqa: E402
import pytest  # noqa: E402

paddle.set_device("cpu")


@pytest.fixture
def log_lines():
    """The messages the paddleseg_lite logger emits during the test."""
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("paddleseg_lite")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)
