"""LossSet: PaddleSeg's {'types', 'coef'} losses applied one per model output."""
import paddle
import pytest

from paddleseg_lite.models.losses import LossSet
from paddleseg_lite.utils.errors import UserError


def mean_and_max(logits, labels):
    return [logits.mean(), logits.max()]


def test_loss_set_scales_each_term_and_expands_lists():
    logits, labels = [paddle.to_tensor([1.0, 3.0]), paddle.to_tensor([5.0])], paddle.to_tensor([0], "int64")
    losses = LossSet.coerce({"types": [mean_and_max, lambda x, y: x.sum()], "coef": [2.0, 0.5]})
    assert [float(v) for v in losses(logits, labels)] == [4.0, 6.0, 2.5]
    with pytest.raises(UserError) as error:
        losses(logits[:1], labels)
    assert str(error.value) == ("The model returns 1 logits but loss.types has 2 entries; give one loss (and coef) "
                                "per model output, or combine losses on one output with type: MixedLoss")
