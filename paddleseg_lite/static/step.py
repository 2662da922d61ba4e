"""`StaticStep`: the static-program CPU training step behind `core.steps`' step interface."""
import re

from paddleseg_lite.models.losses import check_finite
from paddleseg_lite.static.optimizer_state import DISABLE_HINT
from paddleseg_lite.static.trainer import StaticTrainer

_HINT = re.compile(r"[;,]? *(use another loss or )?" + re.escape(DISABLE_HINT))


def not_static_reason(error):
    """Why the static step cannot train this run, from the UserError its build raised (without the hint
    to turn it off: `to_static_training` auto turns it off by itself)."""
    return _HINT.sub("", str(error)).replace("--to_static_training: ", "")


class StaticStep:
    """One training step run by a `StaticTrainer`; `sync` copies its state back to the dygraph
    model and optimizer (before evaluating, saving or finishing)."""
    name = "static"

    def __init__(self, trainer, model, optimizer):
        self.trainer, self.model, self.optimizer = trainer, model, optimizer
        self.precision = trainer.precision

    @classmethod
    def create(cls, model, loss_set, optimizer, precision, batch_shapes, ema=None):
        """A StaticStep for this run, its program built now (before any training step) for batches of
        `batch_shapes` ((N, C, H, W), (N, H, W)), from the current state of `model` / `optimizer` (and
        `ema`, the EMA of the weights the program keeps; `set_state_dict` copies a restored checkpoint in).

        Raises:
            UserError: the model, a loss or the optimizer cannot be built as a static program.
        """
        trainer = StaticTrainer(model, loss_set, optimizer, precision=precision, ema=ema)
        trainer.build(*batch_shapes)
        return cls(trainer, model, optimizer)

    def accepts(self, batch):
        """Whether `batch` has the shapes the program was built for."""
        label_shape = tuple(batch["label"].shape)
        return (tuple(batch["img"].shape), label_shape[:1] + label_shape[-2:]) == self.trainer.shapes

    def __call__(self, batch, it):
        values = self.trainer.step(batch["img"], batch["label"], it)
        check_finite(values, it, batch)
        return values

    def sync(self):
        self.trainer.sync_to(self.model, self.optimizer)

    def state_dict(self):
        return {}

    def set_state_dict(self, states):
        """Nothing beyond model, optimizer and EMA: copy them (restored from a checkpoint) into the program."""
        self.trainer.sync_from(self.model, self.optimizer)
