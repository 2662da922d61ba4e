"""`Trainer`: iteration-based training with PaddleSeg's semantics, built from a config.

    Trainer.from_config(cfg, save_dir).train(resume_model)

`restore` (called by `train`, or first on its own) makes the step strategy and restores the checkpoint,
refusing one that cannot be restored exactly, before any step. The loop reads top to bottom: for each
batch, the step strategy (`core.steps`) updates the model, the LR scheduler steps, `TrainLogger` logs;
every `save_interval` iterations (and at the last) the save point hands the weights to the
`CheckpointManager`, then evaluates (a failing evaluation loses no weights). A resumed run continues with the
same learning rate, data order (seeded per (seed, epoch, index): `core.loader`) and best-model
bookkeeping, and ends with bitwise identical weights on the CPU. With `use_ema` the step also keeps an
EMA of the weights (`core.ema`), saved in each checkpoint, evaluated after the model and restored on resume.
"""
import dataclasses
import functools
import random
import time

import numpy as np
import paddle

from paddleseg_lite.core.checkpoint import CheckpointManager
from paddleseg_lite.core.distributed import average_buffers, log_final_checksum, wrap_parallel
from paddleseg_lite.core.ema import ModelEMA
from paddleseg_lite.core.inference_options import InferenceOptions
from paddleseg_lite.core.loader import EpochBatchSampler, SeededDataset, batch_shapes, build_loader, repeat_dataset
from paddleseg_lite.core.profiler import TrainProfiler
from paddleseg_lite.core.steps import make_step, scheduler_step
from paddleseg_lite.core.train_log import TrainLogger, eval_scalars
from paddleseg_lite.core.val import METRIC_NAMES, PROB_METRIC_NAMES, REPORT_NAMES, evaluate_metrics
from paddleseg_lite.models.layers import maybe_sync_batchnorm
from paddleseg_lite.models.losses import NAN_HINT, LossSet
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError


def seed_everything(seed):
    """Seed paddle, numpy and random (model initialisation, and anything else drawn before the loop)."""
    paddle.seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def check_best_metric(name, test_config):
    """Raise a UserError when `save_best_metric` is not a metric the evaluation reports."""
    if name in REPORT_NAMES:
        raise UserError("save_best_metric {} is reported but cannot pick the best model (lower is better, or an "
                        "interval bound); choose one of {}".format(name, ", ".join(METRIC_NAMES)))
    if name not in METRIC_NAMES:
        raise UserError("save_best_metric {} is not a metric; choose one of {}".format(name, ", ".join(METRIC_NAMES)))
    if name in PROB_METRIC_NAMES and not test_config.get("auc_roc"):
        raise UserError("save_best_metric {} needs AUC: set test_config.auc_roc: True in the config".format(name))


def check_weights_finite(model, it):
    """Raise a UserError naming the first NaN/Inf weights (before anything is saved)."""
    bad = [name for name, p in model.state_dict().items()
           if paddle.is_floating_point(p) and not bool(paddle.isfinite(p).all())]
    if bad:
        raise UserError("Weights became NaN/Inf at iter {} ({}); stopped, nothing was saved from this "
                        "state. {}".format(it, ", ".join(bad[:3]), NAN_HINT))


class Trainer:
    """Train `model` on `train_dataset` as `settings` say (see `cvlibs.run_settings.TrainSettings`).

    Args:
        model (paddle.nn.Layer): Returns a list of logits.
        train_dataset: A dataset in train mode.
        optimizer (paddle.optimizer.Optimizer): With its LR scheduler.
        loss_set (LossSet | dict): One weighted loss per model output.
        settings (TrainSettings): The run's knobs.
        val_dataset: Evaluated at each save point when given.
        save_dir (str): Checkpoints, train log records and VisualDL files go here.
        test_config (dict): How to evaluate (PaddleSeg's test_config keys).
    """

    def __init__(self, model, train_dataset, optimizer, loss_set, settings, val_dataset=None, save_dir="output",
                 test_config=None):
        self.test_config = dict(test_config or {})
        check_best_metric(settings.save_best_metric, self.test_config)
        self.model, self.optimizer = model, optimizer
        self.train_dataset = repeat_dataset(train_dataset, settings.repeats)
        self.ema = ModelEMA(model) if settings.use_ema else None
        self.loss_set, self.settings = LossSet.coerce(loss_set), settings.with_seed()
        self.val_dataset, self.save_dir = val_dataset, save_dir
        self.inference_options = InferenceOptions.from_test_config(self.test_config)
        self.rank, self.world_size = paddle.distributed.get_rank(), paddle.distributed.get_world_size()
        self.checkpoints = CheckpointManager(save_dir, settings.keep_checkpoint_max, settings.save_best_metric,
                                             settings.early_stop_intervals, self.rank)
        self._step, self._states = None, {}

    @classmethod
    def from_config(cls, cfg, save_dir="output"):
        """A Trainer for `cfg` (a `cvlibs.Config`): seeds the run with `cfg.train_settings.seed`, then
        builds model, datasets, optimizer and losses."""
        settings = cfg.train_settings
        seed_everything(settings.seed)
        model = maybe_sync_batchnorm(cfg.model)
        return cls(model, cfg.train_dataset, cfg.optimizer, cfg.loss, settings,
                   val_dataset=cfg.val_dataset if settings.do_eval else None, save_dir=save_dir,
                   test_config=cfg.test_config)

    def restore(self, resume_model=None):
        """Make the step strategy and restore `resume_model` (a checkpoint directory or 'auto') into the
        model, optimizer and step. `settings.precision` becomes the step's ('auto' resolved).

        Raises:
            UserError: the checkpoint cannot be read or restored exactly (before any training step; tools/
                train.py calls this before it writes save_dir/config.yml).
        """
        shapes = functools.partial(batch_shapes, self.train_dataset, self.settings.batch_size, self.settings.seed)
        self._step = make_step(self.settings, wrap_parallel(self.model, self.world_size), self.model,
                               self.loss_set, self.optimizer, self.world_size, shapes, self.ema)
        self.settings = dataclasses.replace(self.settings, precision=self._step.precision)
        if self.ema is not None:
            self.ema.reset()
        self._states = self.checkpoints.restore(resume_model, self.model, self.optimizer, self.ema)
        self._step.set_state_dict(self._states)

    def train(self, resume_model=None, profiler_options=None):
        """Train to `settings.iters`, resuming from a checkpoint directory or 'auto' when given (or from
        what `restore` restored); `profiler_options` (PaddleSeg's string, `core.profiler`) profiles a range
        of iterations.

        Returns:
            dict: The last evaluation's metrics (empty without val_dataset).
        """
        profiler = TrainProfiler(profiler_options, self.save_dir) if profiler_options else None
        if resume_model is not None or self._step is None:
            self.restore(resume_model)
        s, step, states = self.settings, self._step, self._states
        start_iter, seed = states.get("iter", 0), states.get("seed", s.seed)
        sampler = self._sampler(seed, start_iter)
        loader = build_loader(SeededDataset(self.train_dataset, seed), sampler, s.num_workers)
        log = TrainLogger(s.iters, sampler.iters_per_epoch, s.batch_size, s.log_iters,
                          self.save_dir if s.use_vdl and self.rank == 0 else None)
        try:
            metrics = {}
            if states.get("eval_pending") and self.val_dataset is not None:
                metrics = self._evaluate(log, start_iter, dict(seed=seed, **step.state_dict()))
            if not self._stops_early(start_iter):
                metrics = self._train_from(step, loader, log, start_iter, seed, profiler) or metrics
        finally:
            log.close()
            if profiler is not None:
                profiler.finish()
        step.sync()
        log_final_checksum(self.model, self.world_size)
        return metrics

    def _train_from(self, step, loader, log, start_iter, seed, profiler):
        s = self.settings
        self.model.train()
        if start_iter >= s.iters:
            logger.info("The checkpoint is at iter {}, iters is {}: nothing left to train".format(start_iter, s.iters))
        logger.info("Start training from iter {} to {} (data seed {})".format(start_iter + 1, s.iters, seed))
        return self._loop(step, loader, log, start_iter, seed, profiler)

    def _loop(self, step, loader, log, it, seed, profiler):
        s, metrics, tic = self.settings, {}, time.time()
        for batch in loader:
            it += 1
            reader_cost = time.time() - tic
            lr = self.optimizer.get_lr()
            values = step(batch, it)
            scheduler_step(self.optimizer, sum(values))
            log.train_step(it, values, lr, time.time() - tic, reader_cost)
            if profiler is not None and profiler.step():
                break
            if it % s.save_interval == 0 or it == s.iters:
                metrics = self._save_point(step, log, it, seed)
                if self._stops_early(it):
                    break
            tic = time.time()
        return metrics

    def _stops_early(self, it):
        if self.checkpoints.should_stop():
            logger.info("Early stopping at iter {}. The best {} is {:.4f}.".format(
                it, self.settings.save_best_metric, self.checkpoints.best))
            return True
        return False

    def _save_point(self, step, log, it, seed):
        """Checkpoint (rank 0 writes), then evaluate (all ranks) and record the evaluation."""
        step.sync()
        check_weights_finite(self.model, it)
        average_buffers(self.model, self.world_size)
        if self.ema is not None:
            average_buffers(self.ema.model, self.world_size)
        extra_states = dict(seed=seed, **step.state_dict())
        evaluate = self.val_dataset is not None
        self.checkpoints.save(it, self.model, self.optimizer, extra_states, eval_pending=evaluate, ema=self.ema)
        return self._evaluate(log, it, extra_states) if evaluate else {}

    def _run_evaluation(self, model):
        return evaluate_metrics(model, self.val_dataset, self.inference_options,
                                auc_roc=bool(self.test_config.get("auc_roc")),
                                num_workers=min(self.settings.num_workers, 1), num_vis=3)

    def _evaluate(self, log, it, extra_states):
        """Evaluate the model (and then the EMA model: its [EVAL] lines follow a line that says so), record
        both (the EMA's first: the model's record ends the checkpoint's pending state)."""
        metrics, panels = self._run_evaluation(self.model)
        log.evaluation(metrics, panels, it)
        if self.ema is not None:
            logger.info("[EVAL] Evaluating the EMA model (use_ema) at iter {}".format(it))
            ema_metrics, _ = self._run_evaluation(self.ema.model)
            log.evaluation(ema_metrics, [], it, prefix="Ema_")
            self.checkpoints.record_ema_evaluation(it, self.ema.model, eval_scalars(ema_metrics))
        self.checkpoints.record_evaluation(it, self.model, self.optimizer, eval_scalars(metrics), extra_states,
                                           ema=self.ema is not None)
        if self.ema is not None:
            self.checkpoints.log_ema_best()
        self.model.train()
        return metrics

    def _sampler(self, seed, start_iter):
        s = self.settings
        sampler = EpochBatchSampler(len(self.train_dataset), s.batch_size, seed, rank=self.rank,
                                    world_size=self.world_size, start_iter=start_iter, end_iter=s.iters)
        if sampler.iters_per_epoch == 0:
            raise UserError("train_dataset has {} samples, fewer than batch_size {} x {} process(es); lower "
                            "batch_size".format(len(self.train_dataset), s.batch_size, self.world_size))
        return sampler
