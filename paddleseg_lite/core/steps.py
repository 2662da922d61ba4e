"""Training-step strategies: one interface, one strategy per way of running a step.

A step takes a batch and does forward, losses, backward, update and zero-grad, returning the float
value of each loss term (as MMEngine's `OptimWrapper.update_params` hides scaling and stepping):

- `DygraphStep`: eager fp32, any device.
- `AmpStep`: fp16 autocast with loss scaling (CUDA GPUs).
- `paddleseg_lite.static.StaticStep`: the CPU step as a static program (`to_static_training`).

A loss term that is NaN/Inf stops the run (`losses.check_finite`): before the update in dygraph, and
before the static state is copied back in the static step, so no saved state is touched.
`make_step` picks the strategy from the run's settings.
"""
import paddle
from paddle.optimizer.lr import LRScheduler

from paddleseg_lite.models.losses import check_finite
from paddleseg_lite.static import StaticStep
from paddleseg_lite.utils.errors import UserError


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
    """
    name = "dygraph"

    def __init__(self, net, loss_set, optimizer):
        self.net, self.loss_set, self.optimizer = net, loss_set, optimizer

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
    name = "amp-fp16"

    def __init__(self, net, loss_set, optimizer, model, level):
        super().__init__(net, loss_set, optimizer)
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


def make_step(settings, net, model, loss_set, optimizer, world_size):
    """The step strategy for a run's settings.

    Raises:
        UserError: fp16 without a CUDA GPU, or a static step the run cannot use.
    """
    if settings.precision == "fp16":
        if settings.to_static_training:
            raise UserError("to_static_training trains in fp32 only; set precision: fp32 or "
                            "to_static_training: False")
        if not paddle.get_device().startswith("gpu"):
            raise UserError("precision fp16 (AMP) needs a CUDA GPU, but training runs on {}; use "
                            "precision fp32 on the CPU".format(paddle.get_device()))
        return AmpStep(net, loss_set, optimizer, model, settings.amp_level)
    if settings.to_static_training:
        static = StaticStep.create(model, loss_set, optimizer, world_size)
        if static is not None:
            return static
    return DygraphStep(net, loss_set, optimizer)
