"""The ensemble's arithmetic (`models.outputs.mean_prob_logits`, `models.ensemble`): its logits' probabilities
are the numpy mean of the members' softmax (or sigmoid) probabilities, even where a member is certain, its
argmax and threshold decide on that mean, and an ensemble of one is the model itself."""
import numpy as np
import paddle
import pytest

from paddleseg_lite.models import UNet
from paddleseg_lite.models.ensemble import Ensemble, weights_list
from paddleseg_lite.models.outputs import logits_to_pred, logits_to_prob, mean_prob_logits
from paddleseg_lite.utils.errors import UserError


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _members(channels, k=3, scale=4.0):
    rng = np.random.default_rng(channels)
    logits = [rng.normal(0, scale, (2, channels, 9, 11)) for _ in range(k)]
    logits[0][0, :, 0, 0] = [90.0] + [-90.0] * (channels - 1)  # a member that is certain: p = 1 and p = 1e-78
    return logits


@pytest.mark.parametrize("channels", [2, 3])
def test_softmax_members_average_their_probabilities(channels):
    logits = _members(channels)
    mean = np.mean([_softmax(z) for z in logits], axis=0)
    out = mean_prob_logits([paddle.to_tensor(z, dtype="float32") for z in logits])
    np.testing.assert_allclose(logits_to_prob(out).numpy(), mean, atol=1e-6)
    clear = np.sort(mean, axis=1)[:, -1] - np.sort(mean, axis=1)[:, -2] > 1e-5  # not a tie at float32 rounding
    assert np.array_equal(logits_to_pred(out).numpy()[:, 0][clear], mean.argmax(axis=1)[clear])


def test_sigmoid_members_average_their_probabilities_and_threshold_on_the_mean():
    logits = _members(1)
    mean = np.mean([1 / (1 + np.exp(-z)) for z in logits], axis=0)
    out = mean_prob_logits([paddle.to_tensor(z, dtype="float32") for z in logits])
    assert out.shape == [2, 1, 9, 11]  # still a 1-channel model's logits
    np.testing.assert_allclose(logits_to_prob(out).numpy()[:, 1:], mean, atol=1e-6)
    for threshold in (None, 0.3):
        expected = mean > 0.5 if threshold is None else mean >= threshold
        clear = np.abs(mean - (threshold or 0.5)) > 1e-5
        assert np.array_equal(logits_to_pred(out, threshold).numpy()[clear], expected[clear])


def test_an_ensemble_layer_is_the_mean_of_its_members_and_one_member_is_the_model():
    x = paddle.to_tensor(np.random.default_rng(0).normal(size=(1, 3, 32, 40)).astype("float32"))
    models = []
    for seed in (0, 1):
        paddle.seed(seed)
        models.append(UNet(num_classes=2, base_channels=4))
        models[-1].eval()
    ensemble = Ensemble(models, names=["a.pdparams", "b.pdparams"])
    expected = np.mean([_softmax(m(x)[0].numpy().astype(np.float64)) for m in models], axis=0)
    np.testing.assert_allclose(logits_to_prob(ensemble(x)[0]).numpy(), expected, atol=1e-6)
    assert len(ensemble.parameters()) == 2 * len(models[0].parameters())  # members are sublayers: one export
    assert ensemble.describe() == {"members": 2, "combine": "mean of the members' class probabilities",
                                   "weights": ["a.pdparams", "b.pdparams"]}
    single = models[0](x)[0]
    np.testing.assert_allclose(logits_to_prob(mean_prob_logits([single])).numpy(), _softmax(single.numpy()),
                               atol=1e-6)


def test_weights_list():
    assert weights_list(None) == [] and weights_list("a.pdparams") == ["a.pdparams"]
    assert weights_list(("a", "b")) == ["a", "b"]
    with pytest.raises(UserError, match="--model_path a: given more than once"):
        weights_list(["a", "b", "a"])
