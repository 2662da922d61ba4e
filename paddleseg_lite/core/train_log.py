"""What a training run reports: PaddleSeg's [TRAIN] lines and the VisualDL scalars and panels.

`TrainLogger` averages loss terms and timings over each `log_iters` window and writes the [TRAIN]
line (PaddleSeg's format, parsed by benchmark tooling) and the `Train/*` scalars; `evaluation` writes
the `Evaluate/*` scalars (per-class IoU as `IoU_class_i`; PR-AUC, MCC, clDice, Betti errors and the
bootstrap interval bounds as `ap_fg`, `mcc_fg`, ..., `dice_ci_lo_fg`) and sample panels.
"""
import numpy as np

from paddleseg_lite.core.val import METRIC_NAMES, REPORT_NAMES
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.progress import format_eta
from paddleseg_lite.utils.visual import VisualWriter


def eval_scalars(metrics):
    """The scalar metrics of an evaluation, per-class IoU as `IoU_class_i` (VisualDL, pdstates)."""
    scalars = {k: v for k, v in metrics.items() if k in METRIC_NAMES + REPORT_NAMES or k.startswith("image_")}
    scalars.update({"IoU_class_{}".format(i): v for i, v in enumerate(metrics["class_iou"])})
    return scalars


class TrainLogger:
    """The [TRAIN] log lines and VisualDL records of a run.

    Args:
        iters (int): The run's last iteration.
        iters_per_epoch (int): Batches per epoch on each process (for the epoch number).
        batch_size (int): Samples per iteration on each process (for ips).
        log_iters (int): Log every N iterations (and at the last).
        logdir (str | None): VisualDL directory; None writes no records.
    """

    def __init__(self, iters, iters_per_epoch, batch_size, log_iters, logdir=None):
        self.iters, self.iters_per_epoch = iters, iters_per_epoch
        self.batch_size, self.log_iters = batch_size, log_iters
        self.writer = VisualWriter(logdir)
        self._window = []

    def train_step(self, it, values, lr, batch_cost, reader_cost):
        """Record iteration `it`; log the window's means at each log_iters and at the last iteration."""
        self._window.append((values, batch_cost, reader_cost))
        if it % self.log_iters == 0 or it == self.iters:
            self._log(it, lr)
            self._window = []

    def _log(self, it, lr):
        terms = np.mean(np.asarray([v for v, _, _ in self._window], np.float64), axis=0)
        loss = float(terms.sum())
        batch_cost = float(np.mean([b for _, b, _ in self._window]))
        reader_cost = float(np.mean([r for _, _, r in self._window]))
        logger.info("[TRAIN] epoch: {}, iter: {}/{}, loss: {:.4f}, lr: {:.6f}, batch_cost: {:.4f}, "
                    "reader_cost: {:.5f}, ips: {:.4f} samples/sec | ETA {}".format(
                        (it - 1) // self.iters_per_epoch + 1, it, self.iters, loss, lr, batch_cost, reader_cost,
                        self.batch_size / batch_cost, format_eta((self.iters - it) * batch_cost)))
        scalars = {"loss": loss, "lr": lr, "batch_cost": batch_cost, "reader_cost": reader_cost}
        if len(terms) > 1:
            scalars.update({"loss_{}".format(i): v for i, v in enumerate(terms)})
        self.writer.scalars(scalars, it, "Train")

    def evaluation(self, metrics, panels, it, prefix=""):
        """Write an evaluation's scalars (named `Evaluate/<prefix><metric>`: the EMA model's are PaddleSeg's
        `Evaluate/Ema_mIoU`, ...) and its input | label | prediction panels."""
        self.writer.scalars({prefix + k: v for k, v in eval_scalars(metrics).items()}, it, "Evaluate")
        for i, img in enumerate(panels):
            self.writer.image("Evaluate/sample_{}".format(i), img, it)

    def close(self):
        self.writer.close()
