"""`CheckpointManager`: a run's checkpoints (best model, rotation, recovery and resume) behind one call.

The files and their atomic writes are `core.checkpoint_files`'. With use_ema (`core.ema`), as PaddleSeg:

    save_dir/iter_N/ema_model.pdparams   the EMA weights (written with the other files, atomically)
    save_dir/iter_N/ema_model.pdstates   the EMA model's evaluation {'mIoU', 'Acc', 'iter', ...}
    save_dir/ema_best_model/             ema_model.pdparams|.pdstates of the best EMA evaluation so far
                                         (its bookkeeping, `ema_best_metric` / `ema_best_iter`, is in
                                         iter_N/model.pdstates and survives a resume)

With an evaluation, `iter_N/` is written before it (its states marked `eval_pending`) and completed by
`record_evaluation` after it: an evaluation that fails loses no weights, and a run resumed from a
pending checkpoint evaluates it again first.
"""
import collections
import os
import shutil

from paddleseg_lite.core.checkpoint_files import (load_dir, load_latest, read_checkpoint_file, recover, write_dir,
                                                  write_file)
from paddleseg_lite.core.restore import restore_exactly
from paddleseg_lite.utils import logger

EMA_PARAMS, EMA_STATES = "ema_model.pdparams", "ema_model.pdstates"


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
