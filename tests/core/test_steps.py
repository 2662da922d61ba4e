"""core.steps: which step strategy a run gets, the dygraph step's update, and the LR scheduler step."""
import paddle
import pytest

from paddleseg_lite.core import steps
from paddleseg_lite.core.steps import DygraphStep, make_step, scheduler_step
from paddleseg_lite.cvlibs.run_settings import TrainSettings
from paddleseg_lite.models.losses import LossSet
from paddleseg_lite.utils.errors import UserError


class Scale(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.w = self.create_parameter([1], default_initializer=paddle.nn.initializer.Constant(1.0))

    def forward(self, x):
        return [x * self.w]


def parts(lr=0.1):
    model = Scale()
    return model, LossSet([lambda x, y: [x.mean(), x.max()]], [0.5]), paddle.optimizer.SGD(
        learning_rate=lr, parameters=model.parameters())


def settings(**kwargs):
    return TrainSettings(iters=2, batch_size=1, **kwargs)


def test_fp32_runs_the_dygraph_step_on_the_given_net():
    model, losses, optimizer = parts()
    step = make_step(settings(), "net", model, losses, optimizer, 1)
    assert type(step) is DygraphStep and step.name == "dygraph"
    assert (step.net, step.loss_set, step.optimizer) == ("net", losses, optimizer)
    assert step.state_dict() == {}


@pytest.mark.parametrize("kwargs, message", [
    ({"precision": "fp16"}, "precision fp16 (AMP) needs a CUDA GPU, but training runs on cpu; use precision fp32 "
                            "on the CPU"),
    ({"precision": "fp16", "to_static_training": True}, "to_static_training trains in fp32 only; set precision: "
                                                        "fp32 or to_static_training: False")])
def test_fp16_needs_a_gpu_and_no_static_step(kwargs, message):
    model, losses, optimizer = parts()
    with pytest.raises(UserError) as error:
        make_step(settings(**kwargs), model, model, losses, optimizer, 1)
    assert str(error.value) == message


def test_static_training_takes_the_static_step_or_falls_back_to_dygraph(monkeypatch):
    model, losses, optimizer = parts()
    made = []

    class Static:
        @staticmethod
        def create(*args):
            made.append(args)
            return made[0] if len(made) == 1 else None

    monkeypatch.setattr(steps, "StaticStep", Static)
    assert make_step(settings(to_static_training=True), "net", model, losses, optimizer, 3) == (
        model, losses, optimizer, 3)
    assert made == [(model, losses, optimizer, 3)]
    fallback = make_step(settings(to_static_training=True), "net", model, losses, optimizer, 1)
    assert type(fallback) is DygraphStep and fallback.net == "net" and len(made) == 2


def test_the_dygraph_step_returns_the_terms_updates_and_clears_the_gradients():
    """Loss 0.5 * (mean + max) of x * w: d/dw = 0.5 * (2.5 + 4) = 3.25 on images [1, 4]."""
    model, losses, optimizer = parts()
    step = DygraphStep(model, losses, optimizer)
    batch = {"img": paddle.to_tensor([[1.0], [4.0]]), "label": paddle.to_tensor([0, 0], "int32")}
    assert step(batch, 1) == [1.25, 2.0]
    assert model.w.numpy().tolist() == pytest.approx([1.0 - 0.1 * 3.25])
    assert model.w.grad is None or float(model.w.grad.abs().sum()) == 0.0
    with pytest.raises(UserError, match=r"^Loss became \[nan, nan\] at iter 7 \(batch: a, b\)"):
        step(dict(batch, img=paddle.to_tensor([[float("nan")], [1.0]]), img_path=["a", "b"]), 7)
    assert model.w.numpy().tolist() == pytest.approx([1.0 - 0.1 * 3.25])  # no update from the NaN batch


def test_scheduler_step_once_per_iteration_and_plateau_gets_the_loss():
    model, _, _ = parts()
    piecewise = paddle.optimizer.lr.PiecewiseDecay([1], [0.1, 0.01])
    scheduler_step(paddle.optimizer.SGD(learning_rate=piecewise, parameters=model.parameters()), 5.0)
    assert piecewise.last_epoch == 1 and piecewise() == 0.01
    plateau = paddle.optimizer.lr.ReduceOnPlateau(1.0, factor=0.5, patience=0)
    optimizer = paddle.optimizer.SGD(learning_rate=plateau, parameters=model.parameters())
    scheduler_step(optimizer, 3.0)
    scheduler_step(optimizer, 3.0)
    assert optimizer.get_lr() == 0.5
    scheduler_step(paddle.optimizer.SGD(learning_rate=0.1, parameters=model.parameters()), 1.0)  # a float: no-op


def test_fp16_on_a_gpu_takes_the_amp_step_with_the_amp_level(monkeypatch):
    model, losses, optimizer = parts()
    monkeypatch.setattr(steps.paddle, "get_device", lambda: "gpu:0")
    monkeypatch.setattr(steps, "AmpStep", lambda *args: args)
    assert make_step(settings(precision="fp16", amp_level="O2"), "net", model, losses, optimizer, 1) == (
        "net", losses, optimizer, model, "O2")
