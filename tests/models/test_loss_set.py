"""LossSet: PaddleSeg's {'types', 'coef'} losses applied one per model output."""
import paddle
import pytest

from paddleseg_lite.models.losses import NAN_HINT, LossSet, check_finite
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


def test_construction_coercion_and_paddleseg_dict_view():
    one = LossSet([mean_and_max], [1])
    assert LossSet.coerce(one) is one and len(one) == 1 and one.coef == [1.0] and type(one.coef[0]) is float
    assert one["types"] == [mean_and_max] and one["coef"] == [1.0]
    with pytest.raises(KeyError):
        one["weights"]
    with pytest.raises(ValueError) as error:
        LossSet([mean_and_max], [1, 2])
    assert str(error.value) == "LossSet: 1 losses but 2 coef; give one coef per loss"
    for bad in ([mean_and_max], {"types": [mean_and_max]}, None):
        with pytest.raises(TypeError) as error:
            LossSet.coerce(bad)
        assert str(error.value) == ("losses must be a LossSet or a dict {'types': [loss, ...], 'coef': "
                                    "[float, ...]}, got " + repr(bad))


def test_check_finite_names_the_iteration_and_the_batch():
    check_finite([0.5, 1.0], 3, {"img_path": ["a.png"]})  # finite: nothing happens
    with pytest.raises(UserError) as error:
        check_finite([0.5, float("nan")], 7, {"img_path": ["a.png", "b.png"]})
    assert str(error.value) == ("Loss became [0.5, nan] at iter 7 (batch: a.png, b.png); stopped, nothing was saved "
                                "from this state. " + NAN_HINT)
    with pytest.raises(UserError) as error:
        check_finite([float("inf")], 1, {})
    assert "(batch: unknown)" in str(error.value)
    assert NAN_HINT == ("Try a lower learning_rate, check the labels (values must be class ids or ignore_index) and "
                        "the Normalize transform.")
