"""Progbar: the final bar line, written to the stderr of the moment (not the one at import time)."""
import contextlib
import io

from paddleseg_lite.utils.progress import Progbar


def test_progbar_writes_to_current_stderr():
    out = io.StringIO()
    with contextlib.redirect_stderr(out):
        bar = Progbar(2, width=4)
        bar.update(1)  # not a terminal: only the final state is drawn
        bar.update(2)
    assert out.getvalue().startswith("\r2/2 [====] - ") and out.getvalue().endswith("s\n")
