"""Training-step strategies: one interface, one strategy per way of running a step.

A step takes a batch and does forward, losses, backward, update and zero-grad, returning the float
value of each loss term (as MMEngine's `OptimWrapper.update_params` hides scaling and stepping):

- `DygraphStep`: eager fp32, any device.
- `AmpStep`: fp16 autocast with loss scaling (CUDA GPUs).
- `paddleseg_lite.static.StaticStep`: the CPU step as a static program (fp32, or bf16 convolutions).
- `AutoStep`: the static step until a batch of another shape, then dygraph.

With `use_ema`, each step also moves the EMA of the weights (`core.ema.ModelEMA`) after its update: in
dygraph by `ModelEMA.update`, in the static step inside its program (copied back at `sync`).

A loss term that is NaN/Inf stops the run (`losses.check_finite`): before the update in dygraph, and
before the static state is copied back in the static step, so no saved state is touched.
`make_step` picks the strategy from the run's settings; `to_static_training` 'auto' (the default)
takes the static step where it applies (one CPU process; a model, losses and optimizer it can
build) and otherwise says why in one log line. Each step has the `precision` it trains in.
"""
import paddle
from paddle.optimizer.lr import LRScheduler

from paddleseg_lite.models.losses import check_finite
from paddleseg_lite.static import StaticStep
from paddleseg_lite.static.step import not_static_reason
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.cpu import cpu_has_fast_bf16
from paddleseg_lite.utils.errors import UserError

# What precision 'auto' means for the static CPU step on a CPU with native bf16 ('fp32' to make fp32 the default).
AUTO_NATIVE_BF16 = "bf16"


def scheduler_step(optimizer, loss):
    """Advance the optimizer's LR scheduler once per iteration (ReduceOnPlateau gets the loss)."""
    scheduler = optimizer._learning_rate
    if isinstance(scheduler, paddle.optimizer.lr.ReduceOnPlateau):
        scheduler.step(loss)
    elif isinstance(scheduler, LRScheduler):
        scheduler.step()


class DygraphStep:
    """An eager training step.

    Args:
        net (paddle.nn.Layer): The model to call (a DataParallel wrapper in multi-process runs).
        loss_set (LossSet): The weighted losses.
        optimizer (paddle.optimizer.Optimizer): Updates the model's parameters.
        ema (ModelEMA, optional): Updated after each optimizer step.
    """
    name, precision = "dygraph", "fp32"

    def __init__(self, net, loss_set, optimizer, ema=None):
        self.net, self.loss_set, self.optimizer, self.ema = net, loss_set, optimizer, ema

    def _forward(self, batch):
        terms = self.loss_set(self.net(batch["img"]), batch["label"].astype("int64"))
        return terms, paddle.add_n(terms) if len(terms) > 1 else terms[0]

    def _update(self, loss):
        loss.backward()
        self.optimizer.step()

    def __call__(self, batch, it):
        terms, loss = self._forward(batch)
        values = [float(t) for t in terms]
        check_finite(values, it, batch)
        self._update(loss)
        self.optimizer.clear_grad()
        if self.ema is not None:
            self.ema.update(it)
        return values

    def sync(self):
        """Bring the dygraph model and optimizer up to date (a no-op: they are the state)."""

    def state_dict(self):
        """Step state that a checkpoint must carry besides model and optimizer."""
        return {}

    def set_state_dict(self, states):
        """Restore what `state_dict` returned."""


class AmpStep(DygraphStep):
    """fp16 autocast and loss scaling (PaddleSeg's white/black lists); needs a CUDA GPU.

    Args: as `DygraphStep`, plus
        model (paddle.nn.Layer): The unwrapped model (decorated for O2).
        level (str): 'O1' or 'O2'.
    """
    name, precision = "amp-fp16", "fp16"

    def __init__(self, net, loss_set, optimizer, model, level, ema=None):
        super().__init__(net, loss_set, optimizer, ema)
        self.level = level
        self.scaler = paddle.amp.GradScaler(init_loss_scaling=1024)
        if level == "O2":
            paddle.amp.decorate(models=model, optimizers=optimizer, level="O2", save_dtype="float32")

    def _forward(self, batch):
        with paddle.amp.auto_cast(level=self.level, custom_white_list={"elementwise_add", "batch_norm"},
                                  custom_black_list={"bilinear_interp_v2"}):
            return super()._forward(batch)

    def _update(self, loss):
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def state_dict(self):
        return {"scaler": self.scaler.state_dict()}

    def set_state_dict(self, states):
        if "scaler" in states:
            self.scaler.load_state_dict(states["scaler"])


class AutoStep:
    """`to_static_training` auto: the static step while batches have the shapes its program was built for;
    at the first batch of another shape its state goes back to the model and optimizer and a dygraph
    step trains that batch and the rest of the run (one log line).

    Args:
        static (StaticStep): The step to use first.
        dygraph (DygraphStep): The step to continue with.
    """

    def __init__(self, static, dygraph):
        self.step, self.dygraph = static, dygraph

    @property
    def name(self):
        return self.step.name

    @property
    def precision(self):
        return self.step.precision

    def __call__(self, batch, it):
        if self.step is not self.dygraph and not self.step.accepts(batch):
            self.step.sync()
            logger.warning("to_static_training auto: the batch of iter {} has shape {}, the static program "
                           "was built for {}; training continues in dygraph (fp32)".format(
                               it, list(batch["img"].shape), list(self.step.trainer.shapes[0])))
            self.step = self.dygraph
        return self.step(batch, it)

    def sync(self):
        self.step.sync()

    def state_dict(self):
        return self.step.state_dict()

    def set_state_dict(self, states):
        self.step.set_state_dict(states)


def static_precision(precision):
    """The static CPU step's precision for the `precision` key ('auto': `AUTO_NATIVE_BF16` on a CPU with
    native bf16, else fp32).

    Raises:
        UserError: bf16 on a CPU without native bf16.
    """
    if precision == "auto":
        return AUTO_NATIVE_BF16 if cpu_has_fast_bf16() else "fp32"
    if precision == "bf16" and not cpu_has_fast_bf16():
        _refuse_bf16("this CPU has no native bf16: avx512_bf16 or amx_bf16")
    return precision


def _refuse_bf16(reason):
    raise UserError("precision bf16 runs in the static CPU training step, which cannot train this run ({}); "
                    "set precision: auto or fp32".format(reason))


def _on_cpu():
    return paddle.get_device().startswith("cpu")


def _dygraph_reason(settings, world_size):
    """Why this run does not take the static step (None: it does, if it can build the program)."""
    if settings.to_static_training is False:
        return "to_static_training is False"
    if settings.precision == "fp16":
        return "precision fp16 is the dygraph AMP step"
    if not _on_cpu():
        return "the static step is CPU-only; training runs on {}".format(paddle.get_device())
    if world_size > 1:
        return "the static step runs in one process; this run has {} (paddle.distributed.launch)".format(
            world_size)
    return None


def _check_required(settings, world_size):
    """`to_static_training: True` refuses a run the static step cannot train (on a GPU it only warns)."""
    if settings.precision == "fp16":
        raise UserError("to_static_training trains in fp32 or bf16 only; set precision: auto or "
                        "to_static_training: False")
    if world_size > 1:
        raise UserError("--to_static_training trains in one process only; drop it under "
                        "paddle.distributed.launch")
    if not _on_cpu():
        logger.warning("--to_static_training is implemented for the CPU; training on {} stays in "
                       "dygraph".format(paddle.get_device()))


def _dygraph_step(settings, net, model, loss_set, optimizer, reason, ema):
    if settings.precision == "bf16":
        _refuse_bf16(reason)
    fp16 = settings.precision == "fp16"
    if fp16 and not paddle.get_device().startswith("gpu"):
        raise UserError("precision fp16 (AMP) needs a CUDA GPU, but training runs on {}; use "
                        "precision fp32 on the CPU".format(paddle.get_device()))
    if settings.to_static_training == "auto":
        logger.info("Training step: dygraph (to_static_training auto: {})".format(reason))
    if fp16:
        return AmpStep(net, loss_set, optimizer, model, settings.amp_level, ema)
    return DygraphStep(net, loss_set, optimizer, ema)


def make_step(settings, net, model, loss_set, optimizer, world_size, batch_shapes, ema=None):
    """The step strategy for a run's settings; a static step's program is built here, before training.

    Args:
        batch_shapes (callable): Returns the (image, label) shapes of a training batch, for the static
            step's program.
        ema (ModelEMA, optional): The EMA of the weights the step keeps (use_ema).

    Raises:
        UserError: fp16 without a CUDA GPU, bf16 where the static step cannot train, or a static step
            (`to_static_training: True`) the run cannot use.
    """
    if settings.to_static_training is True:
        _check_required(settings, world_size)
    reason = _dygraph_reason(settings, world_size)
    if reason is not None:
        return _dygraph_step(settings, net, model, loss_set, optimizer, reason, ema)
    precision = static_precision(settings.precision)
    try:
        static = StaticStep.create(model, loss_set, optimizer, precision, batch_shapes(), ema)
    except UserError as e:
        if settings.to_static_training is True:
            raise
        return _dygraph_step(settings, net, model, loss_set, optimizer, not_static_reason(e), ema)
    logger.info("Training step: static graph, precision {} (to_static_training {})".format(
        precision, settings.to_static_training))
    if settings.to_static_training is True:
        return static
    return AutoStep(static, DygraphStep(net, loss_set, optimizer, ema))
