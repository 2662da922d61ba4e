"""Output writes that fail cleanly: one line saying why and where, and no half-written temporary left.

Every output (checkpoints, config.yml, per-image metrics, predicted images) is written to a temporary
name and renamed into place. `writing(temp, target)` wraps the write to `temp`: on any failure it
removes `temp` (a half-written file would keep a full disk full, so that even the rerun fails), and an
`OSError` (disk full, quota, permission, read-only file system) becomes a `UserError` naming `target`.
"""
import contextlib
import errno
import os
import shutil

from paddleseg_lite.utils.errors import UserError

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def remove(path):
    """Remove a file or a directory tree; a missing one is no error."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def write_failure(error, target, hint=""):
    """The UserError for the OSError `error` met while writing `target`; `hint` follows the message."""
    if error.errno in DISK_FULL:
        return UserError("Cannot write {}: the disk is full ({}). Free some space and run again{}".format(
            target, error.strerror, hint))
    reason = error.strerror or str(error)
    where = " ({})".format(error.filename) if error.filename and error.filename != target else ""
    return UserError("Cannot write {}: {}{}{}".format(target, reason, where, hint))


@contextlib.contextmanager
def writing(temp, target, hint=""):
    """Around writing `target` through `temp`: a failure removes `temp`; an OSError becomes a UserError."""
    try:
        yield
    except BaseException as error:
        remove(temp)
        if isinstance(error, OSError):
            raise write_failure(error, target, hint) from error
        raise
