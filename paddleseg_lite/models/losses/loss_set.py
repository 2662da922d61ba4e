"""The losses of a training run: one weighted loss per model output.

`LossSet` replaces PaddleSeg's `{'types': [...], 'coef': [...]}` dict (still accepted by
`LossSet.coerce`). Calling it on the model's list of logits returns the weighted loss terms, a
`MixedLoss` contributing one term per sub-loss, as PaddleSeg's training loop does.
"""
import math

from paddleseg_lite.utils.errors import UserError


class LossSet:
    """Weighted losses, one per model output.

    Args:
        losses (list[paddle.nn.Layer]): `losses[i]` is applied to the model's i-th logits.
        coef (list[float]): The weight of each loss, as many as `losses`.
    """

    def __init__(self, losses, coef):
        if len(losses) != len(coef):
            raise ValueError("LossSet: {} losses but {} coef; give one coef per loss".format(len(losses), len(coef)))
        self.losses = list(losses)
        self.coef = [float(c) for c in coef]

    @classmethod
    def coerce(cls, losses):
        """A LossSet from a LossSet or PaddleSeg's `{'types': [...], 'coef': [...]}` dict."""
        if isinstance(losses, cls):
            return losses
        if isinstance(losses, dict) and "types" in losses and "coef" in losses:
            return cls(losses["types"], losses["coef"])
        raise TypeError("losses must be a LossSet or a dict {{'types': [loss, ...], 'coef': [float, ...]}}, "
                        "got {!r}".format(losses))

    def __len__(self):
        return len(self.losses)

    def __getitem__(self, key):
        """PaddleSeg's dict view: `losses['types']`, `losses['coef']`."""
        return {"types": self.losses, "coef": self.coef}[key]

    def __call__(self, logits_list, label):
        """[coef_i * loss_i(logits_i, label)], a MixedLoss expanding into one term per sub-loss.

        Raises:
            UserError: when the model's number of outputs differs from the number of losses.
        """
        if len(logits_list) != len(self.losses):
            raise UserError("The model returns {} logits but loss.types has {} entries; give one loss (and "
                            "coef) per model output, or combine losses on one output with type: MixedLoss".format(
                                len(logits_list), len(self.losses)))
        terms = []
        for logits, loss, coef in zip(logits_list, self.losses, self.coef):
            value = loss(logits, label)
            terms += [coef * v for v in value] if isinstance(value, (list, tuple)) else [coef * value]
        return terms


NAN_HINT = ("Try a lower learning_rate, check the labels (values must be class ids or ignore_index) and "
            "the Normalize transform.")


def check_finite(values, it, batch):
    """Raise a UserError when a loss term of iteration `it` is NaN/Inf (`batch` names the images)."""
    if not all(math.isfinite(v) for v in values):
        names = ", ".join(map(str, batch.get("img_path", []))) or "unknown"
        raise UserError("Loss became {} at iter {} (batch: {}); stopped, nothing was saved from this "
                        "state. {}".format(values, it, names, NAN_HINT))
