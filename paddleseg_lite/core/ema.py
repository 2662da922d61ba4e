"""`ModelEMA`: an exponential moving average of the weights (PaddleSeg's `--use_ema`, config key `use_ema`).

PaddleSeg's rule (paddleseg/utils/ema.py, used by core/train.py): the EMA starts as a copy of the model and,
after the update of iteration `it` (1-based), every floating-point entry of the state dict moves towards
the model's:

    decay = min(1 - 1 / (it + 1), 0.999)        ema = decay * ema + (1 - decay) * weights

so early iterations average over what there is (decay 0.5 at it 1) and later ones over ~1000 iterations.
BatchNorm running mean/variance are averaged like the weights (as PaddleSeg and timm's ModelEmaV2): the
model's own statistics belong to the current weights, the averaged ones to the same window of training
as the averaged weights (exact statistics would need a pass over the training data, SWA's `update_bn`).
Entries that are not floating point (counters) are copied from the model; PaddleSeg leaves them at their
value of the first iteration.

Where PaddleSeg differs, on purpose: it never reads `ema_model.pdparams` back, so a resumed run restarts the
EMA from the resumed weights (with decay 0.999 at once) and forgets the best EMA metric; here both are in
the checkpoint and restored exactly (`core.checkpoint`).

Both training steps keep it: `DygraphStep` calls `update` after each optimizer step; the static CPU step
computes the same rule inside its program (`static.StaticTrainer`, fed `factors(it)`) and copies the result
here at `sync`. Both compute `ema * decay + weights * (1 - decay)` with float32 factors, the same float32
operations as numpy (equal bit for bit: tests/core/test_ema.py).
"""
import copy

import numpy as np
import paddle

from paddleseg_lite.models.checkpoint_io import check_complete, match_state_dict

MAX_DECAY = 0.999


def ema_decay(it, max_decay=MAX_DECAY):
    """PaddleSeg's decay after iteration `it` (1-based): min(1 - 1 / (it + 1), max_decay)."""
    return min(1.0 - 1.0 / (it + 1), max_decay)


def ema_factors(it):
    """(decay, 1 - decay) as float32, the factors of `ema * decay + weights * (1 - decay)` at iteration `it`."""
    decay = ema_decay(it)
    return np.float32(decay), np.float32(1.0 - decay)


class ModelEMA:
    """The EMA of `model`'s state, held in `self.model` (an evaluation copy of `model`).

    Args:
        model (paddle.nn.Layer): The model being trained (read at each `update`).
    """

    def __init__(self, model):
        self.live = model
        self.model = copy.deepcopy(model)
        self.model.eval()
        for param in self.model.parameters():
            param.stop_gradient = True

    def tensors(self):
        """{state_dict key: EMA tensor}, one key per tensor (aliases such as UNet's `conv.*` = `cls.*` once)."""
        seen, tensors = set(), {}
        for key, tensor in self.model.state_dict().items():
            if id(tensor) not in seen:
                seen.add(id(tensor))
                tensors[key] = tensor
        return tensors

    def factors(self, it):
        """`ema_factors(it)`, for the static step's program."""
        return ema_factors(it)

    def reset(self):
        """Start the average at the model's current state."""
        live = self.live.state_dict()
        with paddle.no_grad():
            for key, tensor in self.tensors().items():
                tensor.set_value(live[key].astype(tensor.dtype))

    def update(self, it):
        """Move the average towards the model's state after iteration `it` (1-based)."""
        decay, rest = (float(f) for f in ema_factors(it))
        live = self.live.state_dict()
        with paddle.no_grad():
            for key, tensor in self.tensors().items():
                value = live[key].astype(tensor.dtype)
                tensor.set_value(tensor * decay + value * rest if paddle.is_floating_point(tensor) else value)

    def state_dict(self):
        """The EMA weights, keyed as the model's state_dict (saved as `ema_model.pdparams`)."""
        return self.model.state_dict()

    def set_state_dict(self, state, path):
        """Load an EMA state saved by `state_dict` exactly.

        Raises:
            UserError: naming `path`, when a key is missing, extra or of another shape.
        """
        report = match_state_dict(self.model, state)
        check_complete(report, path, self.model, allow_unexpected=False)
        self.model.set_state_dict(report["loadable"])
