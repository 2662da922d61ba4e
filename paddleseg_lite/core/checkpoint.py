"""Checkpoints in PaddleSeg's layout, written atomically.

    save_dir/iter_N/model.pdparams   model state_dict (PaddleSeg-compatible)
    save_dir/iter_N/model.pdopt      optimizer state_dict (includes the LR scheduler)
    save_dir/iter_N/model.pdstates   {'iter', 'best_metric', 'best_iter', 'metric_name', 'seed',
                                      'worse_count', the evaluation's metrics, 'scaler' (AMP); plus
                                      'threshold' when `val --threshold auto` tuned one (core/threshold.py)}
    save_dir/best_model/             the same files for the best evaluation so far
    with use_ema (`core.ema`), as PaddleSeg:
    save_dir/iter_N/ema_model.pdparams   the EMA weights (written with the other files, atomically)
    save_dir/iter_N/ema_model.pdstates   the EMA model's evaluation {'mIoU', 'Acc', 'iter', ...}
    save_dir/ema_best_model/             ema_model.pdparams|.pdstates of the best EMA evaluation so far
                                         (its bookkeeping, `ema_best_metric` / `ema_best_iter`, is in
                                         iter_N/model.pdstates and survives a resume)

`CheckpointManager` owns a run's checkpoints: best model, rotation, recovery and resume behind one call.

A checkpoint directory is filled under a temporary name (`.tmp-<name>-<hex>`) and renamed into place,
so a killed process never leaves a partial `iter_N/` or `best_model/` behind. Replacing an existing
directory moves the old one aside first (`.tmp-<name>-<hex>.old`); `recover` puts it back if the process
died between the two renames, and removes other leftovers (also `.tmp-model.pdstates-<hex>` inside a
checkpoint, from `write_file`). A write that fails (disk full) removes its temporary at once and stops
the run with one line; the checkpoints written before stay intact.

With an evaluation, `iter_N/` is written before it (its states marked `eval_pending`) and completed by
`record_evaluation` after it: an evaluation that fails loses no weights, and a run resumed from a
pending checkpoint evaluates it again first.
"""
import collections
import glob
import hashlib
import os
import re
import shutil
import uuid

import numpy as np
import paddle

from paddleseg_lite.core.restore import restore_exactly
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.fileio import remove, writing

FILES = ("model.pdparams", "model.pdopt", "model.pdstates")
EMA_PARAMS, EMA_STATES = "ema_model.pdparams", "ema_model.pdstates"
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


class CheckpointManager:
    """The checkpoints of one training run in save_dir (timm's CheckpointSaver is the model).

    Owns `iter_N/` and `best_model/` (written atomically by rank 0), the rotation of the newest
    `keep_checkpoint_max` `iter_N/` made by this run, recovery after a killed writer, resuming, and the
    best-metric and early-stopping bookkeeping that a resumed run continues.

    Args:
        save_dir (str): The run's output directory.
        keep_checkpoint_max (int): Keep the newest N `iter_*` of this run (<= 0: all).
        metric_name (str): The evaluation scalar that picks `best_model/` (strictly greater wins).
        early_stop_intervals (int | None): `should_stop` after N evaluations below the best.
        rank (int): This process's rank; only rank 0 writes.
    """

    def __init__(self, save_dir, keep_checkpoint_max=5, metric_name="mIoU", early_stop_intervals=None, rank=0):
        self.save_dir, self.keep_checkpoint_max, self.rank = save_dir, keep_checkpoint_max, rank
        self.metric_name, self.early_stop_intervals = metric_name, early_stop_intervals
        self.best, self.best_iter, self.worse_count = -1.0, -1, 0
        self.ema_best, self.ema_best_iter = -1.0, -1
        self.kept = collections.deque()
        if rank == 0:
            recover(save_dir)

    def restore(self, resume_model, model, optimizer, ema=None):
        """Load `resume_model` (a directory, or 'auto' for the newest complete one in save_dir) into
        model/optimizer (and `ema`, a `core.ema.ModelEMA`) and the best-metric bookkeeping; returns its
        states ({} when starting fresh).

        Raises:
            UserError: the checkpoint cannot be read, or cannot be restored exactly into `model` and
                `optimizer` (another model shape, optimizer type, ...): checked before any training step.
        """
        if not resume_model:
            return {}
        loaded = load_latest(self.save_dir) if resume_model == "auto" else load_dir(resume_model)
        if loaded is None:
            logger.info("--resume_model auto: no checkpoint in {}, starting from scratch".format(self.save_dir))
            return {}
        model_state, opt_state, states, path = loaded
        restore_exactly(model, optimizer, model_state, opt_state, path)
        if ema is not None:
            self._restore_ema(ema, states, path)
        self.best = states.get("best_metric", -1.0)
        self.best_iter = states.get("best_iter", -1)
        self.worse_count = states.get("worse_count", 0)
        logger.info("Resume model from {} at iter {} (best {} {:.4f} at iter {})".format(
            path, states["iter"], states.get("metric_name", "mIoU"), self.best, self.best_iter))
        return states

    def _restore_ema(self, ema, states, path):
        ema_path = os.path.join(path, EMA_PARAMS)
        if not os.path.isfile(ema_path):
            logger.warning("use_ema: {} has no {} (trained without use_ema): the EMA starts from the resumed "
                           "weights".format(path, EMA_PARAMS))
            ema.reset()
            return
        ema.set_state_dict(read_checkpoint_file(ema_path, "EMA weights"), ema_path)
        self.ema_best = states.get("ema_best_metric", -1.0)
        self.ema_best_iter = states.get("ema_best_iter", -1)

    def _update_best(self, value, it):
        if value > self.best:
            self.best, self.best_iter, self.worse_count = value, it, 0
            return True
        self.worse_count += value < self.best
        return False

    def _states(self, it, extra_states, scalars, ema=False):
        states = dict(extra_states, best_metric=self.best, best_iter=self.best_iter, metric_name=self.metric_name,
                      worse_count=self.worse_count, iter=it, **scalars)
        if ema:
            states.update(ema_best_metric=self.ema_best, ema_best_iter=self.ema_best_iter)
        return states

    def _path(self, it):
        return os.path.join(self.save_dir, "iter_{}".format(it))

    def save(self, it, model, optimizer, extra_states, eval_pending=False, ema=None):
        """Write `iter_N/` (with `ema`'s weights when given) and drop the oldest `iter_*` beyond
        keep_checkpoint_max (rank 0).

        With `eval_pending` (an evaluation follows), its states say so until `record_evaluation`.
        """
        if self.rank != 0:
            return
        states = self._states(it, extra_states, {"eval_pending": True} if eval_pending else {}, ema is not None)
        self.kept.append(self._path(it))
        objects = {"model.pdparams": model.state_dict(), "model.pdopt": optimizer.state_dict(),
                   "model.pdstates": states}
        if ema is not None:
            objects[EMA_PARAMS] = ema.state_dict()
        write_dir(self.kept[-1], objects)
        while self.keep_checkpoint_max > 0 and len(self.kept) > self.keep_checkpoint_max:
            shutil.rmtree(self.kept.popleft(), ignore_errors=True)

    def record_evaluation(self, it, model, optimizer, scalars, extra_states, ema=False):
        """Record the evaluation `scalars` of `iter_N/`: the best-metric bookkeeping, `best_model/` when it
        is a new best, then the evaluation in `iter_N/model.pdstates` (no longer pending; with `ema`, after
        `record_ema_evaluation`, the EMA's bookkeeping too)."""
        is_best = self._update_best(scalars[self.metric_name], it)
        if self.rank == 0:
            states = self._states(it, extra_states, scalars, ema)
            if is_best:  # before iter_N's states: a run killed in between evaluates iter_N again when resumed
                write_dir(os.path.join(self.save_dir, "best_model"), {
                    "model.pdparams": model.state_dict(), "model.pdopt": optimizer.state_dict(),
                    "model.pdstates": states})
            if os.path.isdir(self._path(it)):  # not when resumed from a pending checkpoint of another save_dir
                write_file(os.path.join(self._path(it), "model.pdstates"), states)
        logger.info("[EVAL] The model with the best validation {} ({:.4f}) was saved at iter {}.".format(
            self.metric_name, self.best, self.best_iter))

    def record_ema_evaluation(self, it, ema_model, scalars):
        """Record the EMA model's evaluation `scalars` of `iter_N/` (before `record_evaluation`, which ends
        the pending state): `ema_best_model/` when it is the best EMA evaluation so far (by the metric of
        `best_model/`), then `iter_N/ema_model.pdstates`. Early stopping follows the model, as PaddleSeg's."""
        is_best = scalars[self.metric_name] > self.ema_best
        if is_best:
            self.ema_best, self.ema_best_iter = scalars[self.metric_name], it
        if self.rank == 0:
            states = dict(scalars, iter=it)
            if is_best:
                write_dir(os.path.join(self.save_dir, "ema_best_model"), {EMA_PARAMS: ema_model.state_dict(),
                                                                          EMA_STATES: states})
            if os.path.isdir(self._path(it)):
                write_file(os.path.join(self._path(it), EMA_STATES), states)

    def log_ema_best(self):
        logger.info("[EVAL] The EMA model with the best validation {} ({:.4f}) was saved at iter {}.".format(
            self.metric_name, self.ema_best, self.ema_best_iter))

    def should_stop(self):
        """True after `early_stop_intervals` evaluations below the best."""
        return bool(self.early_stop_intervals) and self.worse_count >= self.early_stop_intervals
