"""Test setup: import the package from this checkout and keep Paddle on the CPU; shared fixtures."""
import atexit
import logging
import os
import shutil
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

import paddle  # noqa: E402
import pytest  # noqa: E402

paddle.set_device("cpu")
# exports cached by deploy.cache go to a directory of this test run (tool subprocesses inherit it), not ~/.cache
os.environ["PADDLESEG_LITE_CACHE_DIR"] = tempfile.mkdtemp(prefix="paddleseg_lite_test_cache_")
atexit.register(shutil.rmtree, os.environ["PADDLESEG_LITE_CACHE_DIR"], True)


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
