"""Export of a 1-channel (sigmoid) model: argmax gives class 1 where the logit is positive, softmax two
class probabilities (sigmoid(-z), sigmoid(z)), as `core.infer` reads binary logits."""
import numpy as np
import paddle
import pytest

from paddleseg_lite.deploy import ExportWrapper


class Constant(paddle.nn.Layer):
    """A 1-channel model whose logits are the first input channel minus 0.5."""

    def forward(self, x):
        return [x[:, :1] - 0.5]


@pytest.mark.parametrize("output_op", ["argmax", "softmax", "none"])
def test_binary_model_outputs(output_op):
    x = paddle.to_tensor(np.array([[[[0.0, 1.0], [0.25, 0.75]]]], np.float32).repeat(3, axis=1))
    out = ExportWrapper(Constant(), output_op)(x).numpy()
    z = np.array([[-0.5, 0.5], [-0.25, 0.25]], np.float32)
    if output_op == "argmax":
        np.testing.assert_array_equal(out, [[[0, 1], [0, 1]]])
        assert out.dtype == np.int32
    elif output_op == "softmax":
        np.testing.assert_allclose(out[0], [1 / (1 + np.exp(z)), 1 / (1 + np.exp(-z))], rtol=1e-6)
    else:
        np.testing.assert_allclose(out[0, 0], z)


def test_argmax_export_at_a_decision_threshold():
    """With a threshold the graph gives class 1 where sigmoid(z) >= threshold: sigmoid of z = -0.5, 0.5, -0.25,
    0.25 is 0.378, 0.622, 0.438, 0.562, so 0.4 keeps all but the first pixel (argmax: two of them)."""
    x = paddle.to_tensor(np.array([[[[0.0, 1.0], [0.25, 0.75]]]], np.float32).repeat(3, axis=1))
    out = ExportWrapper(Constant(), "argmax", threshold=0.4)(x).numpy()
    np.testing.assert_array_equal(out, [[[0, 1], [1, 1]]])
    assert out.dtype == np.int32
