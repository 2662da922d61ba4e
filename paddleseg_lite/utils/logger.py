"""PaddleSeg-style logging: ``[%Y/%m/%d %H:%M:%S] LEVEL: msg`` on stdout.

`add_file` mirrors the same lines into a file (save_dir/train.log; a failing write stops the file with
one warning line, not a traceback per record). Only rank 0 logs below ERROR in multi-process runs.
"""
import logging
import os
import sys

_FORMAT = logging.Formatter("[%(asctime)s] %(levelname)s: %(message)s", "%Y/%m/%d %H:%M:%S")


class _StdoutHandler(logging.StreamHandler):
    """Writes to the `sys.stdout` of the moment, so redirections made after import (notebooks,
    `contextlib.redirect_stdout`, test capture) apply, and a replaced stream is never written after
    it was closed."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


class _LogFile(logging.FileHandler):
    """A log file that, when a write fails (disk full), says so in one line on stderr and stops, instead
    of logging's traceback for every record; the training's own writes then report the disk in one line."""

    def handleError(self, record):
        sys.stderr.write("warning: stopped writing the log file {}: {}\n".format(self.baseFilename,
                                                                             sys.exc_info()[1]))
        _logger.removeHandler(self)
        try:
            self.close()
        except OSError:  # flushing the rest fails the same way
            pass


_logger = logging.getLogger("paddleseg_lite")
_logger.propagate = False
if not _logger.handlers:
    _stdout = _StdoutHandler()
    _stdout.setFormatter(_FORMAT)
    _logger.addHandler(_stdout)
_rank = int(os.environ.get("PADDLE_TRAINER_ID", "0"))
_logger.setLevel(logging.INFO if _rank == 0 else logging.ERROR)


debug = _logger.debug
info = _logger.info
warning = _logger.warning
error = _logger.error


def add_file(path):
    """Also write log lines to `path` (appending); a second call for the same path is a no-op."""
    path = os.path.abspath(path)
    for handler in _logger.handlers:
        if isinstance(handler, logging.FileHandler) and handler.baseFilename == path:
            return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handler = _LogFile(path)
    handler.setFormatter(_FORMAT)
    _logger.addHandler(handler)
