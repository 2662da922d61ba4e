"""The iteration-based training loop (PaddleSeg semantics), in small pieces.

`train` runs: restore (optional) -> for each iteration: step, log, and every `save_interval`
(and at the end) evaluate + checkpoint. Checkpoints are atomic and carry what resuming needs
(iteration, best metric and its iteration, the data seed, the AMP scaler), so a resumed run continues
with the same learning rate, data order and best-model bookkeeping as an uninterrupted one.
"""
import collections
import math
import os
import shutil
import time

import numpy as np
import paddle
from paddle.optimizer.lr import LRScheduler

from paddleseg_lite.core import checkpoint
from paddleseg_lite.core.loader import EpochBatchSampler, SeededDataset, build_loader
from paddleseg_lite.core.val import METRIC_NAMES, evaluate
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.progress import format_eta
from paddleseg_lite.utils.visual import VisualWriter


def compute_losses(logits_list, labels, losses):
    """[coef_i * loss_i(logits_i, labels)], a MixedLoss expanding into one entry per sub-loss.

    Raises:
        UserError: when the model's number of outputs differs from the number of losses.
    """
    if len(logits_list) != len(losses["types"]):
        raise UserError("The model returns {} logits but loss.types has {} entries; give one loss (and "
                        "coef) per model output, or combine losses on one output with type: MixedLoss".format(len(logits_list), len(losses["types"])))
    out = []
    for logits, loss, coef in zip(logits_list, losses["types"], losses["coef"]):
        value = loss(logits, labels)
        out += [coef * v for v in value] if isinstance(value, (list, tuple)) else [coef * value]
    return out


class _Amp:
    """fp16 autocast + loss scaling on GPU; a no-op in fp32."""

    def __init__(self, precision, level, model, optimizer):
        self.enabled = precision == "fp16"
        if self.enabled and not paddle.is_compiled_with_cuda():
            raise UserError("--precision fp16 needs a CUDA GPU (paddlepaddle-gpu); on CPU train with "
                            "--precision fp32")
        self.level = level
        self.scaler = paddle.amp.GradScaler(init_loss_scaling=1024) if self.enabled else None
        if self.enabled and level == "O2":
            paddle.amp.decorate(models=model, optimizers=optimizer, level="O2", save_dtype="float32")

    def autocast(self):
        if not self.enabled:
            return paddle.amp.auto_cast(enable=False)
        return paddle.amp.auto_cast(level=self.level, custom_white_list={"elementwise_add", "batch_norm"},
                                    custom_black_list={"bilinear_interp_v2"})

    def step(self, loss, optimizer):
        if self.enabled:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            loss.backward()
            optimizer.step()


def train_step(model, batch, losses, optimizer, amp):
    """One optimization step; returns the float values of the loss terms."""
    images = batch["img"]
    labels = batch["label"].astype("int64")
    with amp.autocast():
        logits_list = model(images)
        loss_list = compute_losses(logits_list, labels, losses)
        loss = paddle.add_n(loss_list) if len(loss_list) > 1 else loss_list[0]
    values = [float(v) for v in loss_list]
    if not all(math.isfinite(v) for v in values):
        return values
    amp.step(loss, optimizer)
    model.clear_gradients()
    return values


def _check_finite(values, it, batch):
    if not all(math.isfinite(v) for v in values):
        raise UserError("Loss became {} at iter {} (batch: {}). Nothing was saved from this state. Try a "
                        "lower learning_rate, check the labels (values must be class ids or ignore_index) "
                        "and the Normalize transform.".format(values, it, ", ".join(map(str, batch.get("img_path", [])))))


class _Window:
    """Averages of loss terms and timings since the last log line."""

    def __init__(self):
        self.losses, self.batch_costs, self.reader_costs = [], [], []

    def add(self, values, batch_cost, reader_cost):
        self.losses.append(values)
        self.batch_costs.append(batch_cost)
        self.reader_costs.append(reader_cost)

    def summary(self):
        losses = np.mean(np.asarray(self.losses, np.float64), axis=0)
        return float(losses.sum()), losses, float(np.mean(self.batch_costs)), float(np.mean(self.reader_costs))


def _log_train(window, it, iters, iters_per_epoch, lr, batch_size, writer):
    loss, terms, batch_cost, reader_cost = window.summary()
    logger.info("[TRAIN] epoch: {}, iter: {}/{}, loss: {:.4f}, lr: {:.6f}, batch_cost: {:.4f}, "
                "reader_cost: {:.5f}, ips: {:.4f} samples/sec | ETA {}".format(
                    (it - 1) // iters_per_epoch + 1, it, iters, loss, lr, batch_cost, reader_cost,
                    batch_size / batch_cost, format_eta((iters - it) * batch_cost)))
    scalars = {"loss": loss, "lr": lr, "batch_cost": batch_cost, "reader_cost": reader_cost}
    if len(terms) > 1:
        scalars.update({"loss_{}".format(i): v for i, v in enumerate(terms)})
    writer.scalars(scalars, it, "Train")


def _prune(kept, keep_checkpoint_max):
    while keep_checkpoint_max > 0 and len(kept) > keep_checkpoint_max:
        shutil.rmtree(kept.popleft(), ignore_errors=True)


class _Tracker:
    """Best metric bookkeeping and early stopping; restored on resume."""

    def __init__(self, metric_name, early_stop_intervals, states):
        self.metric_name = metric_name
        self.best = states.get("best_metric", -1.0)
        self.best_iter = states.get("best_iter", -1)
        self.early_stop_intervals = early_stop_intervals
        self.worse_count = states.get("worse_count", 0)

    def update(self, value, it):
        """Record an evaluation; returns True when it is a new best (strictly greater)."""
        if value > self.best:
            self.best, self.best_iter, self.worse_count = value, it, 0
            return True
        self.worse_count += value < self.best
        return False

    def should_stop(self):
        return bool(self.early_stop_intervals) and self.worse_count >= self.early_stop_intervals

    def states(self):
        return {"best_metric": self.best, "best_iter": self.best_iter, "metric_name": self.metric_name,
                "worse_count": self.worse_count}


class _Run:
    """What the save points need: the objects of one training run."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


def _evaluate(run, it):
    metrics, panels = evaluate(run.model, run.val_dataset, num_workers=min(run.num_workers, 1), num_vis=3,
                               **run.test_config)
    run.writer.scalars({k: v for k, v in metrics.items() if np.isscalar(v)}, it, "Evaluate")
    for i, img in enumerate(panels):
        run.writer.image("Evaluate/sample_{}".format(i), img, it)
    run.model.train()
    return metrics


def _save(run, name, states):
    checkpoint.write_dir(os.path.join(run.save_dir, name), {
        "model.pdparams": run.model.state_dict(), "model.pdopt": run.optimizer.state_dict(),
        "model.pdstates": states})


def _eval_and_save(run, it):
    """Evaluate (all ranks), then write iter_N/ and maybe best_model/ (rank 0)."""
    metrics = _evaluate(run, it) if run.val_dataset is not None else {}
    is_best = bool(metrics) and run.tracker.update(metrics[run.tracker.metric_name], it)
    if run.rank == 0:
        states = dict(run.tracker.states(), iter=it, seed=run.data_seed,
                      **{k: v for k, v in metrics.items() if np.isscalar(v)})
        if run.amp.enabled:
            states["scaler"] = run.amp.scaler.state_dict()
        name = "iter_{}".format(it)
        _save(run, name, states)
        run.kept.append(os.path.join(run.save_dir, name))
        _prune(run.kept, run.keep_checkpoint_max)
        if is_best:
            _save(run, "best_model", states)
    if metrics:
        logger.info("[EVAL] The model with the best validation {} ({:.4f}) was saved at iter {}.".format(
            run.tracker.metric_name, run.tracker.best, run.tracker.best_iter))
    return metrics


def _restore(resume_model, save_dir, model, optimizer, amp):
    """Load a checkpoint into model/optimizer; returns its states dict ({} when starting fresh)."""
    if not resume_model:
        return {}
    loaded = checkpoint.load_dir(resume_model, save_dir)
    if loaded is None:
        logger.info("--resume_model auto: no checkpoint in {}, starting from scratch".format(save_dir))
        return {}
    model_state, opt_state, states, path = loaded
    model.set_state_dict(model_state)
    optimizer.set_state_dict(opt_state)
    if amp.enabled and "scaler" in states:
        amp.scaler.load_state_dict(states["scaler"])
    logger.info("Resume model from {} at iter {}".format(path, states["iter"]))
    return states


def _parallel(model, world_size):
    if world_size > 1:
        paddle.distributed.init_parallel_env()
        return paddle.DataParallel(model)
    return model


def train(model, train_dataset, optimizer, losses, iters, batch_size, val_dataset=None, save_dir="output",
          resume_model=None, save_interval=1000, log_iters=10, num_workers=0, use_vdl=False,
          keep_checkpoint_max=5, early_stop_intervals=None, test_config=None, precision="fp32",
          amp_level="O1", save_best_metric="mIoU", seed=None):
    """Train `model` for `iters` iterations; see tools/train.py for the meaning of each flag.

    Returns:
        dict: The last evaluation's metrics (empty without val_dataset).
    """
    if save_best_metric not in METRIC_NAMES:
        raise UserError("--save_best_metric {} is not a metric; choose one of {}".format(
            save_best_metric, ", ".join(METRIC_NAMES)))
    rank, world_size = paddle.distributed.get_rank(), paddle.distributed.get_world_size()
    amp = _Amp(precision, amp_level, model, optimizer)
    states = _restore(resume_model, save_dir, model, optimizer, amp)
    start_iter = states.get("iter", 0)
    data_seed = states.get("seed", seed if seed is not None else int(np.random.SeedSequence().entropy % 2**31))
    tracker = _Tracker(save_best_metric, early_stop_intervals, states)
    sampler = EpochBatchSampler(len(train_dataset), batch_size, data_seed, rank=rank, world_size=world_size,
                                start_iter=start_iter)
    if len(sampler) == 0:
        raise UserError("train_dataset has {} samples, fewer than batch_size {} x {} process(es); lower "
                        "batch_size".format(len(train_dataset), batch_size, world_size))
    loader = build_loader(SeededDataset(train_dataset, data_seed), sampler, num_workers)
    net = _parallel(model, world_size)
    run = _Run(model=model, optimizer=optimizer, val_dataset=val_dataset, test_config=test_config or {},
               num_workers=num_workers, writer=VisualWriter(save_dir if use_vdl and rank == 0 else None),
               save_dir=save_dir, tracker=tracker, amp=amp, data_seed=data_seed, rank=rank,
               kept=collections.deque(), keep_checkpoint_max=keep_checkpoint_max)
    scheduler = optimizer._learning_rate if isinstance(optimizer._learning_rate, LRScheduler) else None
    window, metrics = _Window(), {}
    model.train()
    it, tic = start_iter, time.time()
    logger.info("Start training from iter {} to {} (data seed {})".format(start_iter + 1, iters, data_seed))
    for batch in loader:
        if it >= iters:
            break
        it += 1
        reader_cost = time.time() - tic
        lr = optimizer.get_lr()
        values = train_step(net, batch, losses, optimizer, amp)
        _check_finite(values, it, batch)
        if scheduler is not None:
            scheduler.step()
        window.add(values, time.time() - tic, reader_cost)
        if it % log_iters == 0 or it == iters:
            _log_train(window, it, iters, len(sampler), lr, batch_size, run.writer)
            window = _Window()
        if it % save_interval == 0 or it == iters:
            metrics = _eval_and_save(run, it)
            if tracker.should_stop():
                logger.info("Early stopping at iter {}. The best {} is {:.4f}.".format(
                    it, tracker.metric_name, tracker.best))
                break
        tic = time.time()
    run.writer.close()
    return metrics
