"""Checkpoints in PaddleSeg's layout, written atomically.

    save_dir/iter_N/model.pdparams   model state_dict (PaddleSeg-compatible)
    save_dir/iter_N/model.pdopt      optimizer state_dict (includes the LR scheduler)
    save_dir/iter_N/model.pdstates   {'iter', 'best_metric', 'best_iter', 'metric_name', 'seed',
                                      'mIoU', 'Acc' (when evaluated), 'scaler' (AMP)}
    save_dir/best_model/             the same files for the best evaluation so far

A checkpoint directory is filled under a temporary name and renamed into place, so a killed process
never leaves a partial `iter_N/` or `best_model/` behind.
"""
import glob
import os
import re
import shutil
import uuid

import paddle

from paddleseg_lite.utils.errors import UserError

FILES = ("model.pdparams", "model.pdopt", "model.pdstates")


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_dir(target, objects):
    """Write `{filename: object}` with paddle.save into `target`, replacing it atomically."""
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, ".tmp-{}-{}".format(os.path.basename(target), uuid.uuid4().hex[:8]))
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


def iter_of(path):
    """The iteration number of a `.../iter_N` directory, or None."""
    match = re.fullmatch(r"iter_(\d+)", os.path.basename(os.path.normpath(path)))
    return int(match.group(1)) if match else None


def is_complete(path):
    return all(os.path.isfile(os.path.join(path, f)) for f in FILES)


def latest(save_dir):
    """The newest complete `iter_N` directory under save_dir, or None."""
    found = [(iter_of(p), p) for p in glob.glob(os.path.join(save_dir, "iter_*")) if iter_of(p) is not None]
    complete = [item for item in found if is_complete(item[1])]
    return max(complete)[1] if complete else None


def _load(path, what):
    try:
        return paddle.load(path)
    except Exception as e:  # paddle raises many types for a corrupt file
        raise UserError("Cannot read {} {}: {} ({}). Delete it or resume from another checkpoint.".format(
            what, path, type(e).__name__, str(e).splitlines()[0] if str(e) else "corrupt file"))


def load_dir(path, save_dir=None):
    """Load a checkpoint directory for resuming.

    Args:
        path (str): `save_dir/iter_N`, or 'auto' for the newest complete one in save_dir.

    Returns:
        tuple: (model_state, optimizer_state, states dict, directory).
    """
    if path == "auto":
        path = latest(save_dir)
        if path is None:
            return None
    if not os.path.isdir(path):
        raise UserError("--resume_model {}: directory not found (expected e.g. output/iter_500, or 'auto')".format(path))
    missing = [f for f in FILES[:2] if not os.path.isfile(os.path.join(path, f))]
    if missing:
        raise UserError("--resume_model {}: missing {}; it is not a complete checkpoint".format(path, ", ".join(missing)))
    model_state = _load(os.path.join(path, "model.pdparams"), "model weights")
    opt_state = _load(os.path.join(path, "model.pdopt"), "optimizer state")
    states_path = os.path.join(path, "model.pdstates")
    states = _load(states_path, "training state") if os.path.isfile(states_path) else {}
    states.setdefault("iter", iter_of(path))
    if states["iter"] is None:
        raise UserError("--resume_model {}: cannot tell the iteration (name it iter_N)".format(path))
    return model_state, opt_state, states, path
