"""Checkpoint directories on disk: PaddleSeg's layout, written atomically, found and read for resuming.

    save_dir/iter_N/model.pdparams   model state_dict (PaddleSeg-compatible)
    save_dir/iter_N/model.pdopt      optimizer state_dict (includes the LR scheduler)
    save_dir/iter_N/model.pdstates   {'iter', 'best_metric', 'best_iter', 'metric_name', 'seed',
                                      'worse_count', the evaluation's metrics, 'scaler' (AMP); plus
                                      'threshold' when `val --threshold auto` tuned one (core/threshold.py)}
    save_dir/best_model/             the same files for the best evaluation so far
    (with use_ema also ema_model.pdparams|.pdstates and ema_best_model/: `core.checkpoint`)

A checkpoint directory is filled under a temporary name (`.tmp-<name>-<hex>`) and renamed into place,
so a killed process never leaves a partial `iter_N/` or `best_model/` behind. Replacing an existing
directory moves the old one aside first (`.tmp-<name>-<hex>.old`); `recover` puts it back if the process
died between the two renames, and removes other leftovers (also `.tmp-model.pdstates-<hex>` inside a
checkpoint, from `write_file`). A write that fails (disk full) removes its temporary at once and stops
the run with one line; the checkpoints written before stay intact.

`CheckpointManager` (`core.checkpoint`) decides what is written when; this module only writes, finds and
reads.
"""
import glob
import hashlib
import os
import re
import shutil
import uuid

import numpy as np
import paddle

from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.fileio import remove, writing

FILES = ("model.pdparams", "model.pdopt", "model.pdstates")
_TMP = re.compile(r"\.tmp-(.+)-[0-9a-f]{8}(\.old)?")
RESUME_HINT = "; the checkpoints written before are intact: continue with --resume_model auto"


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_name(target):
    return os.path.join(os.path.dirname(os.path.abspath(target)),
                        ".tmp-{}-{}".format(os.path.basename(target), uuid.uuid4().hex[:8]))


def write_dir(target, objects):
    """Write `{filename: object}` with paddle.save into `target`, replacing it atomically.

    Raises:
        UserError: a write failed (disk full, ...); the temporary directory is removed and `target` kept.
    """
    parent, tmp = os.path.dirname(os.path.abspath(target)), _temp_name(target)
    with writing(tmp, target, RESUME_HINT):
        os.makedirs(parent, exist_ok=True)
        os.makedirs(tmp)
        for name, obj in objects.items():
            paddle.save(obj, os.path.join(tmp, name))
        _fsync_dir(tmp)
    old = None
    if os.path.exists(target):
        old = tmp + ".old"
        os.replace(target, old)
    os.replace(tmp, target)
    _fsync_dir(parent)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def write_file(target, obj, hint=RESUME_HINT):
    """paddle.save `obj` to the file `target`, replacing it atomically (a temporary file in its directory);
    `hint` follows the message of a failed write."""
    tmp = _temp_name(target)
    with writing(tmp, target, hint):
        paddle.save(obj, tmp)
    os.replace(tmp, target)


def recover(save_dir):
    """Clean up after a killed writer: restore a moved-aside directory whose replacement never
    arrived, and delete every other temporary (in save_dir, and files inside its checkpoints)."""
    inside = glob.glob(os.path.join(save_dir, "iter_*", ".tmp-*"))
    for path in sorted(glob.glob(os.path.join(save_dir, ".tmp-*"))) + sorted(inside):
        match = _TMP.fullmatch(os.path.basename(path))
        if not match:
            continue
        target = os.path.join(os.path.dirname(path), match.group(1))
        if match.group(2) and not os.path.exists(target):
            os.replace(path, target)
        else:
            remove(path)


def iter_of(path):
    """The iteration number of a `.../iter_N` directory, or None."""
    match = re.fullmatch(r"iter_(\d+)", os.path.basename(os.path.normpath(path)))
    return int(match.group(1)) if match else None


def is_complete(path):
    return all(os.path.isfile(os.path.join(path, f)) for f in FILES[:2])


def candidates(save_dir):
    """The complete `iter_N` directories under save_dir, newest first."""
    found = [(iter_of(p), p) for p in glob.glob(os.path.join(save_dir, "iter_*")) if iter_of(p) is not None]
    return [p for _, p in sorted(found, reverse=True) if is_complete(p)]


def read_checkpoint_file(path, what):
    """The dict paddle.load reads from `path`, or a UserError naming the file (`what` it holds) and the fix."""
    try:
        obj = paddle.load(path)
    except Exception as e:  # paddle raises many types for a corrupt file
        detail = str(e).splitlines()[0] if str(e) else "corrupt file"
        raise UserError("Cannot read the {} {}: {} ({}). Delete the checkpoint or resume from another "
                        "one".format(what, path, type(e).__name__, detail[:200]))
    if not isinstance(obj, dict):
        raise UserError("Cannot read the {} {}: it holds a {}, not a dict. Delete the checkpoint or resume "
                        "from another one".format(what, path, type(obj).__name__))
    return obj


def _not_a_checkpoint(path):
    """The UserError for a --resume_model path that is no checkpoint directory."""
    if os.path.isfile(path):
        return UserError("--resume_model {}: a file, not a checkpoint directory; give the directory that holds "
                         "model.pdparams and model.pdopt (e.g. output/iter_500), or 'auto'".format(path))
    if os.path.isdir(path) and candidates(path):
        return UserError("--resume_model {}: a save_dir, not a checkpoint; give one of its checkpoints (e.g. {}), "
                         "or 'auto' with --save_dir {}".format(path, candidates(path)[0], path))
    return UserError("--resume_model {}: directory not found (expected e.g. output/iter_500, or 'auto')".format(path))


def load_dir(path):
    """Load the checkpoint directory `path` (save_dir/iter_N) for resuming.

    Returns:
        tuple: (model_state, optimizer_state, states dict, path).

    Raises:
        UserError: not a checkpoint directory, a missing file, or a file that cannot be read.
    """
    if not os.path.isdir(path) or (not os.path.exists(os.path.join(path, FILES[0])) and candidates(path)):
        raise _not_a_checkpoint(path)
    missing = [f for f in FILES[:2] if not os.path.isfile(os.path.join(path, f))]
    if missing:
        raise UserError("--resume_model {}: missing {}; it is not a complete checkpoint".format(
            path, ", ".join(missing)))
    model_state = read_checkpoint_file(os.path.join(path, "model.pdparams"), "model weights")
    opt_state = read_checkpoint_file(os.path.join(path, "model.pdopt"), "optimizer state")
    states_path = os.path.join(path, "model.pdstates")
    states = read_checkpoint_file(states_path, "training state") if os.path.isfile(states_path) else {}
    states.setdefault("iter", iter_of(path))
    if states["iter"] is None:
        raise UserError("--resume_model {}: cannot tell the iteration (name it iter_N)".format(path))
    return model_state, opt_state, states, path


def load_latest(save_dir):
    """The newest checkpoint of save_dir that loads (`--resume_model auto`), or None when there is none.

    Unreadable checkpoints are skipped with a warning.

    Raises:
        UserError: when save_dir has checkpoints but none of them can be read (starting afresh instead
            would silently drop them).
    """
    found = candidates(save_dir)
    for path in found:
        try:
            return load_dir(path)
        except UserError as e:
            logger.warning("--resume_model auto: skipping {}: {}".format(path, e))
    if found:
        raise UserError("--resume_model auto: none of the {} checkpoints in {} can be read (see the warnings "
                        "above); resume from another one, or remove them to start from scratch".format(
                            len(found), save_dir))
    return None


def checksum(state_dict):
    """A short hex digest of a state dict's names and exact array contents."""
    digest = hashlib.sha256()
    for name in sorted(k for k, v in state_dict.items() if hasattr(v, "shape")):
        value = state_dict[name]
        array = np.ascontiguousarray(value.numpy() if hasattr(value, "numpy") else np.asarray(value))
        digest.update(name.encode())
        digest.update(str(array.dtype).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]
