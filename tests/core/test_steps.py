"""core.steps: which step strategy a run gets, the dygraph step's update, and the LR scheduler step."""
import re

import numpy as np
import paddle
import pytest

from paddleseg_lite.core import steps
from paddleseg_lite.core.steps import AutoStep, DygraphStep, make_step, scheduler_step
from paddleseg_lite.cvlibs.run_settings import TrainSettings
from paddleseg_lite.models.losses import LossSet
from paddleseg_lite.static.optimizer_state import DISABLE_HINT
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


def no_shapes():
    raise AssertionError("a dygraph step needs no batch shapes")


@pytest.fixture
def log(monkeypatch):
    lines = []
    monkeypatch.setattr(steps.logger, "info", lambda m: lines.append(("info", m)))
    monkeypatch.setattr(steps.logger, "warning", lambda m: lines.append(("warning", m)))
    return lines


def test_false_runs_the_dygraph_step_on_the_given_net(log):
    model, losses, optimizer = parts()
    step = make_step(settings(to_static_training=False), "net", model, losses, optimizer, 1, no_shapes)
    assert type(step) is DygraphStep and (step.name, step.precision) == ("dygraph", "fp32")
    assert (step.net, step.loss_set, step.optimizer) == ("net", losses, optimizer)
    assert step.state_dict() == {} and log == []


@pytest.mark.parametrize("kwargs, message", [
    ({"precision": "fp16"}, "precision fp16 (AMP) needs a CUDA GPU, but training runs on cpu; use precision fp32 "
                            "on the CPU"),
    ({"precision": "fp16", "to_static_training": True}, "to_static_training trains in fp32 or bf16 only; set "
                                                        "precision: auto or to_static_training: False")])
def test_fp16_needs_a_gpu_and_no_static_step(kwargs, message):
    model, losses, optimizer = parts()
    with pytest.raises(UserError) as error:
        make_step(settings(**kwargs), model, model, losses, optimizer, 1, no_shapes)
    assert str(error.value) == message


class FakeStatic:
    """Records `StaticStep.create`'s arguments; raises `error` when given."""
    name = "static"
    error = None

    def __init__(self, *args):
        self.args, self.precision = args, args[3]

    @classmethod
    def create(cls, *args):
        if cls.error:
            raise cls.error
        return cls(*args)


@pytest.fixture
def static(monkeypatch):
    FakeStatic.error = None
    monkeypatch.setattr(steps, "StaticStep", FakeStatic)
    return FakeStatic


@pytest.mark.parametrize("fast_bf16, precision", [(True, "bf16"), (False, "fp32")])
def test_auto_takes_the_static_step_with_bf16_where_the_cpu_has_it(static, log, monkeypatch, fast_bf16, precision):
    monkeypatch.setattr(steps, "cpu_has_fast_bf16", lambda: fast_bf16)
    model, losses, optimizer = parts()
    step = make_step(settings(), "net", model, losses, optimizer, 1, lambda: "shapes")
    assert type(step) is AutoStep and step.step.args == (model, losses, optimizer, precision, "shapes", None)
    assert (step.name, step.precision) == ("static", precision) and type(step.dygraph) is DygraphStep
    assert log == [("info", "Training step: static graph, precision {} (to_static_training auto)".format(precision))]
    required = make_step(settings(to_static_training=True, precision="fp32"), "net", model, losses, optimizer, 1,
                         lambda: "shapes")
    assert type(required) is FakeStatic and required.precision == "fp32"


@pytest.mark.parametrize("device, world_size, kwargs, reason", [
    ("gpu:0", 1, {}, "the static step is CPU-only; training runs on gpu:0"),
    ("cpu", 2, {}, "the static step runs in one process; this run has 2 (paddle.distributed.launch)"),
    ("gpu:0", 1, {"precision": "fp16"}, "precision fp16 is the dygraph AMP step")])
def test_auto_falls_back_to_dygraph_with_one_line_naming_the_reason(static, log, monkeypatch, device, world_size,
                                                                     kwargs, reason):
    monkeypatch.setattr(steps.paddle, "get_device", lambda: device)
    monkeypatch.setattr(steps, "AmpStep", lambda *args: DygraphStep(*args[:3]))
    model, losses, optimizer = parts()
    step = make_step(settings(**kwargs), "net", model, losses, optimizer, world_size, no_shapes)
    assert type(step) is DygraphStep and step.net == "net"
    assert log == [("info", "Training step: dygraph (to_static_training auto: {})".format(reason))]


def test_required_static_step_errors_stay(static, log, monkeypatch):
    model, losses, optimizer = parts()
    with pytest.raises(UserError, match=r"^--to_static_training trains in one process only; drop it under "
                                        r"paddle.distributed.launch$"):
        make_step(settings(to_static_training=True), "net", model, losses, optimizer, 2, no_shapes)
    static.error = UserError("--to_static_training: the loss X cannot be built as a static graph (E: e); use "
                             "another loss or " + DISABLE_HINT)
    with pytest.raises(UserError, match="the loss X cannot be built"):
        make_step(settings(to_static_training=True), "net", model, losses, optimizer, 1, lambda: "shapes")
    monkeypatch.setattr(steps.paddle, "get_device", lambda: "gpu:0")  # the GPU only warns, as before
    step = make_step(settings(to_static_training=True, precision="fp32"), "net", model, losses, optimizer, 1,
                     no_shapes)
    assert type(step) is DygraphStep
    assert log == [("warning", "--to_static_training is implemented for the CPU; training on gpu:0 stays in dygraph")]


def test_auto_trains_in_dygraph_when_the_static_program_cannot_be_built(log):
    """A loss that reads a value (`float`) cannot be traced: the build fails before any step, so the first
    batch is trained once, by the dygraph step."""
    model, _, optimizer = parts()
    losses = LossSet([lambda x, y: [x.mean() * float(x.max())]], [1.0])
    step = make_step(settings(precision="auto"), model, model, losses, optimizer, 1,
                     lambda: ((2, 1, 4, 4), (2, 4, 4)))
    assert type(step) is DygraphStep and step.precision == "fp32"
    assert len(log) == 1 and log[0][0] == "info"
    assert re.fullmatch(r"Training step: dygraph \(to_static_training auto: the loss \S+ cannot be built as a "
                        r"static graph \(TypeError: .+\)\)", log[0][1]), log[0][1]
    assert paddle.in_dynamic_mode() and model.w.numpy().item() == 1.0  # the build touched no state
    step({"img": paddle.ones([2, 1, 4, 4]), "label": paddle.zeros([2, 4, 4], "int64")}, 1)
    assert model.w.numpy().item() == pytest.approx(1.0 - 0.1 * 1.0)  # d/dw mean(x * w) * const at x = 1
    with pytest.raises(UserError, match=r"^precision bf16 runs in the static CPU training step, which cannot train "
                                        r"this run \(the loss .+\); set precision: auto or fp32$"):
        make_step(settings(precision="bf16"), model, model, losses, optimizer, 1, lambda: ((2, 1, 4, 4), (2, 4, 4)))


@pytest.mark.parametrize("device, world_size, kwargs, fast_bf16, reason", [
    ("gpu:0", 1, {}, True, "the static step is CPU-only; training runs on gpu:0"),
    ("cpu", 2, {}, True, "the static step runs in one process; this run has 2 (paddle.distributed.launch)"),
    ("cpu", 1, {"to_static_training": False}, True, "to_static_training is False"),
    ("cpu", 1, {}, False, "this CPU has no native bf16: avx512_bf16 or amx_bf16")])
def test_bf16_where_it_cannot_train_is_refused(static, monkeypatch, device, world_size, kwargs, fast_bf16, reason):
    monkeypatch.setattr(steps.paddle, "get_device", lambda: device)
    monkeypatch.setattr(steps, "cpu_has_fast_bf16", lambda: fast_bf16)
    model, losses, optimizer = parts()
    with pytest.raises(UserError) as error:
        make_step(settings(precision="bf16", **kwargs), "net", model, losses, optimizer, world_size, lambda: "s")
    assert str(error.value) == ("precision bf16 runs in the static CPU training step, which cannot train this run "
                                "({}); set precision: auto or fp32".format(reason))


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
    assert make_step(settings(precision="fp16", amp_level="O2"), "net", model, losses, optimizer, 1, no_shapes) == (
        "net", losses, optimizer, model, "O2", None)


def test_auto_switches_to_dygraph_at_a_batch_of_another_shape_without_losing_or_repeating_it(log):
    """The static state goes back to the model before the dygraph step trains that batch: the run equals
    dygraph throughout (fp32)."""
    from paddleseg_lite.models import UNet
    from paddleseg_lite.models.losses import CrossEntropyLoss
    rng = np.random.RandomState(0)
    batches = [{"img": paddle.to_tensor(rng.rand(2, 3, size, size).astype("float32")),
                "label": paddle.to_tensor(rng.randint(0, 2, (2, size, size)))} for size in (16, 16, 24, 16)]

    def run(make):
        paddle.seed(0)
        model = UNet(num_classes=2, base_channels=4)
        optimizer = paddle.optimizer.Momentum(0.05, momentum=0.9, parameters=model.parameters())
        step = make(model, LossSet([CrossEntropyLoss()], [1.0]), optimizer)
        losses = [step(batch, it)[0] for it, batch in enumerate(batches, 1)]
        step.sync()
        return losses, model.state_dict()

    auto_losses, auto_state = run(lambda *parts: make_step(settings(precision="fp32"), parts[0], *parts, 1,
                                                           lambda: ((2, 3, 16, 16), (2, 16, 16))))
    dygraph_losses, dygraph_state = run(DygraphStep)
    np.testing.assert_allclose(auto_losses, dygraph_losses, atol=1e-5)
    for key, value in dygraph_state.items():
        np.testing.assert_allclose(auto_state[key].numpy(), value.numpy(), atol=1e-5)
    assert log[-1] == ("warning", "to_static_training auto: the batch of iter 3 has shape [2, 3, 24, 24], the static "
                                  "program was built for [2, 3, 16, 16]; training continues in dygraph (fp32)")
