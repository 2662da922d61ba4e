"""`StaticStep`: the static-program CPU training step behind `core.steps`' step interface."""
import paddle

from paddleseg_lite.models.losses import check_finite
from paddleseg_lite.static.trainer import StaticTrainer
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError


class StaticStep:
    """One training step run by a `StaticTrainer`; `sync` copies its state back to the dygraph
    model and optimizer (before evaluating, saving or finishing)."""
    name = "static"

    def __init__(self, trainer, model, optimizer):
        self.trainer, self.model, self.optimizer = trainer, model, optimizer

    @classmethod
    def create(cls, model, loss_set, optimizer, world_size):
        """A StaticStep for this run, or None where the static step does not apply (not on a CPU).

        Create it after restoring a checkpoint into `model`/`optimizer`: the program starts from their
        state at its first step.

        Raises:
            UserError: under multi-process training, which the static program does not do.
        """
        if world_size > 1:
            raise UserError("--to_static_training trains in one process only; drop it under "
                            "paddle.distributed.launch")
        if not paddle.get_device().startswith("cpu"):
            logger.warning("--to_static_training is implemented for the CPU; training on {} stays in "
                           "dygraph".format(paddle.get_device()))
            return None
        logger.info("--to_static_training: training steps run as an old-IR static graph (oneDNN convolutions)")
        return cls(StaticTrainer(model, loss_set, optimizer), model, optimizer)

    def __call__(self, batch, it):
        values = self.trainer.step(batch["img"], batch["label"])
        check_finite(values, it, batch)
        return values

    def sync(self):
        self.trainer.sync_to(self.model, self.optimizer)

    def state_dict(self):
        return {}

    def set_state_dict(self, states):
        """Nothing beyond model and optimizer (the program reads them at its first step)."""
