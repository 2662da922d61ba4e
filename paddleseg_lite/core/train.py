"""The iteration-based training loop (PaddleSeg semantics), in small pieces.

`train` runs: restore (optional) -> for each iteration: step, log, and every `save_interval`
(and at the end) evaluate + checkpoint. Checkpoints are atomic and carry what resuming needs
(iteration, best metric and its iteration, the data seed, the AMP scaler; the LR scheduler is inside
the optimizer state), so a resumed run continues with the same learning rate, data order and
best-model bookkeeping as an uninterrupted one, and ends with bitwise identical weights on the CPU.

Multi-process (`python -m paddle.distributed.launch`): DataParallel, each rank its shard of every
epoch, BatchNorm running statistics averaged over ranks at each save point (so every rank evaluates
and ends with the same model), metrics summed over ranks, rank 0 writes.
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
from paddleseg_lite.core.static_train import make_static_trainer
from paddleseg_lite.core.val import METRIC_NAMES, evaluate
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.progress import format_eta
from paddleseg_lite.utils.visual import VisualWriter

NAN_HINT = ("Try a lower learning_rate, check the labels (values must be class ids or ignore_index) and "
            "the Normalize transform.")


def compute_losses(logits_list, labels, losses):
    """[coef_i * loss_i(logits_i, labels)], a MixedLoss expanding into one entry per sub-loss.

    Raises:
        UserError: when the model's number of outputs differs from the number of losses.
    """
    if len(logits_list) != len(losses["types"]):
        raise UserError("The model returns {} logits but loss.types has {} entries; give one loss (and "
                        "coef) per model output, or combine losses on one output with type: MixedLoss".format(
                            len(logits_list), len(losses["types"])))
    out = []
    for logits, loss, coef in zip(logits_list, losses["types"], losses["coef"]):
        value = loss(logits, labels)
        out += [coef * v for v in value] if isinstance(value, (list, tuple)) else [coef * value]
    return out


class _Amp:
    """fp16 autocast + loss scaling on GPU; a no-op in fp32."""

    def __init__(self, precision, level, model, optimizer):
        self.enabled = precision == "fp16"
        if self.enabled and not paddle.get_device().startswith("gpu"):
            raise UserError("--precision fp16 (AMP) needs a CUDA GPU, but training runs on {}; use "
                            "--precision fp32 on the CPU".format(paddle.get_device()))
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


def _batch_names(batch):
    return ", ".join(map(str, batch.get("img_path", []))) or "unknown"


def _check_losses(values, it, batch):
    if not all(math.isfinite(v) for v in values):
        raise UserError("Loss became {} at iter {} (batch: {}); stopped, nothing was saved from this "
                        "state. {}".format(values, it, _batch_names(batch), NAN_HINT))


def static_train_step(static, batch, it):
    """train_step as a static program (--to_static_training); the dygraph model is synced at save points."""
    values = static.step(batch["img"], batch["label"])
    _check_losses(values, it, batch)
    return values


def train_step(model, batch, losses, optimizer, amp, it):
    """One optimization step; returns the float values of the loss terms.

    Raises:
        UserError: when a loss term is NaN/Inf (before any update, so no state is touched).
    """
    labels = batch["label"].astype("int64")
    with amp.autocast():
        loss_list = compute_losses(model(batch["img"]), labels, losses)
        loss = paddle.add_n(loss_list) if len(loss_list) > 1 else loss_list[0]
    values = [float(v) for v in loss_list]
    _check_losses(values, it, batch)
    amp.step(loss, optimizer)
    model.clear_gradients()
    return values


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


def eval_scalars(metrics):
    """The scalar metrics of an evaluation, per-class IoU as `IoU_class_i` (VisualDL, pdstates)."""
    scalars = {k: v for k, v in metrics.items() if k in METRIC_NAMES or k.startswith("image_")}
    scalars.update({"IoU_class_{}".format(i): v for i, v in enumerate(metrics["class_iou"])})
    return scalars


def _evaluate(run, it):
    metrics, panels = evaluate(run.model, run.val_dataset, num_workers=min(run.num_workers, 1), num_vis=3,
                               **run.test_config)
    run.writer.scalars(eval_scalars(metrics), it, "Evaluate")
    for i, img in enumerate(panels):
        run.writer.image("Evaluate/sample_{}".format(i), img, it)
    run.model.train()
    return metrics


def _check_weights_finite(model, it):
    bad = [name for name, p in model.state_dict().items()
           if paddle.is_floating_point(p) and not bool(paddle.isfinite(p).all())]
    if bad:
        raise UserError("Weights became NaN/Inf at iter {} ({}); stopped, nothing was saved from this "
                        "state. {}".format(it, ", ".join(bad[:3]), NAN_HINT))


def _average_statistics(model, world_size):
    """Average the non-trained float state (BatchNorm running mean/variance) over ranks: without
    SyncBatchNorm each rank's statistics follow its own data shard; afterwards all ranks agree."""
    if world_size < 2:
        return
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.stop_gradient and paddle.is_floating_point(tensor):
            paddle.distributed.all_reduce(tensor)
            tensor.set_value(tensor / world_size)


def _save(run, name, states):
    checkpoint.write_dir(os.path.join(run.save_dir, name), {
        "model.pdparams": run.model.state_dict(), "model.pdopt": run.optimizer.state_dict(),
        "model.pdstates": states})


def _eval_and_save(run, it):
    """Evaluate (all ranks), then write iter_N/ and maybe best_model/ (rank 0)."""
    if run.static is not None:
        run.static.sync_to(run.model, run.optimizer)
    _check_weights_finite(run.model, it)
    _average_statistics(run.model, run.world_size)
    metrics = _evaluate(run, it) if run.val_dataset is not None else {}
    is_best = bool(metrics) and run.tracker.update(metrics[run.tracker.metric_name], it)
    if run.rank == 0:
        states = dict(run.tracker.states(), iter=it, seed=run.data_seed, **(eval_scalars(metrics) if metrics else {}))
        if run.amp.enabled:
            states["scaler"] = run.amp.scaler.state_dict()
        if is_best:  # before iter_N: a run killed in between redoes this evaluation when resumed
            _save(run, "best_model", states)
        name = "iter_{}".format(it)
        _save(run, name, states)
        run.kept.append(os.path.join(run.save_dir, name))
        _prune(run.kept, run.keep_checkpoint_max)
    if metrics:
        logger.info("[EVAL] The model with the best validation {} ({:.4f}) was saved at iter {}.".format(
            run.tracker.metric_name, run.tracker.best, run.tracker.best_iter))
    return metrics


def _restore(resume_model, save_dir, model, optimizer, amp):
    """Load a checkpoint into model/optimizer; returns its states dict ({} when starting fresh)."""
    if not resume_model:
        return {}
    loaded = checkpoint.load_latest(save_dir) if resume_model == "auto" else checkpoint.load_dir(resume_model)
    if loaded is None:
        logger.info("--resume_model auto: no checkpoint in {}, starting from scratch".format(save_dir))
        return {}
    model_state, opt_state, states, path = loaded
    model.set_state_dict(model_state)
    optimizer.set_state_dict(opt_state)
    if amp.enabled and "scaler" in states:
        amp.scaler.load_state_dict(states["scaler"])
    logger.info("Resume model from {} at iter {} (best {} {:.4f} at iter {})".format(
        path, states["iter"], states.get("metric_name", "mIoU"), states.get("best_metric", -1.0),
        states.get("best_iter", -1)))
    return states


def _parallel(model, world_size):
    if world_size < 2:
        return model
    if not paddle.distributed.is_initialized():
        paddle.distributed.init_parallel_env()
    return paddle.DataParallel(model)


def _log_checksum(model, world_size):
    """Log a digest of the final weights; in multi-process runs, check that every rank has the same."""
    digest = checkpoint.checksum(model.state_dict())
    if world_size < 2:
        logger.info("Final weights checksum: {}".format(digest))
        return
    digests = []
    paddle.distributed.all_gather_object(digests, digest)
    if len(set(digests)) == 1:
        logger.info("Final weights checksum: {} (the same on all {} ranks)".format(digest, world_size))
    else:
        logger.error("Final weights differ between ranks: {}".format(", ".join(
            "rank {}: {}".format(r, d) for r, d in enumerate(digests))))


def _scheduler_step(optimizer, loss):
    scheduler = optimizer._learning_rate
    if isinstance(scheduler, paddle.optimizer.lr.ReduceOnPlateau):
        scheduler.step(loss)
    elif isinstance(scheduler, LRScheduler):
        scheduler.step()


def _train_loop(run, net, loader, start_iter):
    """Iterations start_iter+1 .. run.iters; returns the last evaluation's metrics."""
    window, metrics, it, tic = _Window(), {}, start_iter, time.time()
    for batch in loader:
        it += 1
        reader_cost = time.time() - tic
        lr = run.optimizer.get_lr()
        values = (static_train_step(run.static, batch, it) if run.static is not None
                  else train_step(net, batch, run.losses, run.optimizer, run.amp, it))
        _scheduler_step(run.optimizer, sum(values))
        window.add(values, time.time() - tic, reader_cost)
        if it % run.log_iters == 0 or it == run.iters:
            _log_train(window, it, run.iters, run.iters_per_epoch, lr, run.batch_size, run.writer)
            window = _Window()
        if it % run.save_interval == 0 or it == run.iters:
            metrics = _eval_and_save(run, it)
            if run.tracker.should_stop():
                logger.info("Early stopping at iter {}. The best {} is {:.4f}.".format(
                    it, run.tracker.metric_name, run.tracker.best))
                break
        tic = time.time()
    return metrics


def _check_best_metric(save_best_metric, test_config):
    if save_best_metric not in METRIC_NAMES:
        raise UserError("--save_best_metric {} is not a metric; choose one of {}".format(
            save_best_metric, ", ".join(METRIC_NAMES)))
    if "auc" in save_best_metric.lower() and not test_config.get("auc_roc"):
        raise UserError("--save_best_metric {} needs AUC: set test_config.auc_roc: True in the config".format(
            save_best_metric))


def _sampler(train_dataset, batch_size, data_seed, start_iter, iters):
    rank, world_size = paddle.distributed.get_rank(), paddle.distributed.get_world_size()
    sampler = EpochBatchSampler(len(train_dataset), batch_size, data_seed, rank=rank, world_size=world_size,
                                start_iter=start_iter, end_iter=iters)
    if sampler.iters_per_epoch == 0:
        raise UserError("train_dataset has {} samples, fewer than batch_size {} x {} process(es); lower "
                        "batch_size".format(len(train_dataset), batch_size, world_size))
    return sampler


def train(model, train_dataset, optimizer, losses, iters, batch_size, val_dataset=None, save_dir="output",
          resume_model=None, save_interval=1000, log_iters=10, num_workers=0, use_vdl=False,
          keep_checkpoint_max=5, early_stop_intervals=None, test_config=None, precision="fp32",
          amp_level="O1", save_best_metric="mIoU", seed=None, to_static_training=False):
    """Train `model` for `iters` iterations; see tools/train.py for the meaning of each flag.

    Returns:
        dict: The last evaluation's metrics (empty without val_dataset).
    """
    test_config = test_config or {}
    _check_best_metric(save_best_metric, test_config)
    rank, world_size = paddle.distributed.get_rank(), paddle.distributed.get_world_size()
    if rank == 0:
        checkpoint.recover(save_dir)
    amp = _Amp(precision, amp_level, model, optimizer)
    states = _restore(resume_model, save_dir, model, optimizer, amp)
    # after _restore: the static program starts from the restored state (StaticTrainer.sync_from)
    static = make_static_trainer(to_static_training, model, losses, optimizer, precision, world_size)
    start_iter = states.get("iter", 0)
    data_seed = states.get("seed", seed if seed is not None else int(np.random.SeedSequence().entropy % 2**31))
    sampler = _sampler(train_dataset, batch_size, data_seed, start_iter, iters)
    loader = build_loader(SeededDataset(train_dataset, data_seed), sampler, num_workers)
    run = _Run(model=model, optimizer=optimizer, losses=losses, iters=iters, batch_size=batch_size,
               iters_per_epoch=sampler.iters_per_epoch, log_iters=log_iters, save_interval=save_interval,
               val_dataset=val_dataset, test_config=test_config, num_workers=num_workers,
               writer=VisualWriter(save_dir if use_vdl and rank == 0 else None), save_dir=save_dir,
               tracker=_Tracker(save_best_metric, early_stop_intervals, states), amp=amp, data_seed=data_seed,
               rank=rank, world_size=world_size, kept=collections.deque(), keep_checkpoint_max=keep_checkpoint_max,
               static=static)
    model.train()
    if start_iter >= iters:
        logger.info("The checkpoint is at iter {}, iters is {}: nothing left to train".format(start_iter, iters))
    logger.info("Start training from iter {} to {} (data seed {})".format(start_iter + 1, iters, data_seed))
    try:
        metrics = _train_loop(run, _parallel(model, world_size), loader, start_iter)
    finally:
        run.writer.close()
    if static is not None:
        static.sync_to(model, optimizer)
    _log_checksum(model, world_size)
    return metrics
