"""Fault category 1, silent wrong results on resume: a checkpoint that cannot be restored exactly into
the run's model and optimizer stops it before any training step, with one line naming the checkpoint
file and what differs (it used to log "Resume model from ..." and train on from random weights)."""
import os
import shutil

import numpy as np
import paddle
import pytest

from fault_check import assert_one_error
from paddleseg_lite.core import checkpoint_files
from paddleseg_lite.core.checkpoint import CheckpointManager
from paddleseg_lite.utils.errors import UserError
from tool_runner import run_tool


@pytest.fixture(scope="module")
def adam_run(tmp_path_factory):
    """A tiny quickstart run (UNet base_channels 4, Adam, PolynomialDecay) with its checkpoint iter_2."""
    out = tmp_path_factory.mktemp("adam")
    proc = run_tool("train", "--iters", 2, "--save_interval", 2, "--seed", 1, "--save_dir", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def snapshot(directory):
    return {os.path.relpath(os.path.join(d, f), directory): open(os.path.join(d, f), "rb").read()
            for d, _, files in os.walk(directory) for f in files if f != "train.log"}


@pytest.mark.parametrize("resume, flags, opts, names", [
    # the case: SGD trained on from random weights, exit 0
    ("auto", [], ["model.base_channels=8", "optimizer.type=SGD"],
     ["iter_2/model.pdparams", "[4, 3, 3, 3] in the checkpoint but [8, 3, 3, 3]", "base_channels"]),
    # Adam's moments dropped without a word; the static step's restore path
    ("iter_2", ["--to_static_training"], ["optimizer.type=SGD"],
     ["iter_2/model.pdopt", "moment1", "SGD keeps no per-parameter state", "optimizer.type"]),
])
def test_a_checkpoint_the_config_cannot_restore_stops_before_any_step(adam_run, tmp_path, resume, flags, opts,
                                                                      names):
    save_dir = tmp_path / "run"
    shutil.copytree(adam_run, save_dir)
    before = snapshot(save_dir)
    resume = resume if resume == "auto" else save_dir / resume
    result = run_tool("train", "--iters", 4, "--save_dir", save_dir, "--resume_model", resume, *flags, opts=opts)
    assert_one_error(result, *names)
    assert "Resume model from" not in result.stdout and "[TRAIN]" not in result.stdout
    assert snapshot(save_dir) == before  # config.yml too: it still tells how the checkpoint was made


class Net(paddle.nn.Layer):
    """conv + batch norm: parameters, buffers and optimizer accumulators of two shapes."""

    def __init__(self, channels=4, extra=False):
        super().__init__()
        self.conv = paddle.nn.Conv2D(3, channels, 3)
        self.bn = paddle.nn.BatchNorm2D(channels)
        if extra:
            self.head = paddle.nn.Conv2D(channels, 2, 1)

    def forward(self, x):
        return self.bn(self.conv(x))


def optimizer_of(kind, model, scheduler=True):
    lr = paddle.optimizer.lr.PolynomialDecay(0.01, 10) if scheduler else 0.01
    if kind == "Momentum":
        return paddle.optimizer.Momentum(lr, parameters=model.parameters())
    return getattr(paddle.optimizer, kind)(lr, parameters=model.parameters())


def step(model, optimizer):
    paddle.seed(0)
    model(paddle.rand([2, 3, 6, 6])).mean().backward()
    optimizer.step()
    optimizer.clear_grad()
    if isinstance(optimizer._learning_rate, paddle.optimizer.lr.LRScheduler):
        optimizer._learning_rate.step()


def trained_checkpoint(save_dir, model, optimizer):
    step(model, optimizer)
    CheckpointManager(str(save_dir)).save(1, model, optimizer, {"seed": 0})
    return str(save_dir / "iter_1")


def arrays(model):
    return {k: v.numpy() for k, v in model.state_dict().items()}


def test_the_same_model_built_after_others_resumes_exactly(tmp_path):
    """Optimizer accumulators are named after tensor names, which differ in a process that built other
    layers first; they are matched by structured name, so the next step is the same as without a stop."""
    paddle.seed(1)
    model = Net()
    optimizer = optimizer_of("Adam", model)
    trained_checkpoint(tmp_path, model, optimizer)
    Net(), Net()  # shifts the tensor names of the next model
    resumed = Net()
    resumed_optimizer = optimizer_of("Adam", resumed)
    assert resumed.conv.weight.name != model.conv.weight.name
    assert CheckpointManager(str(tmp_path)).restore("auto", resumed, resumed_optimizer)["iter"] == 1
    step(model, optimizer)
    step(resumed, resumed_optimizer)
    expected = arrays(model)
    assert all(np.array_equal(v, expected[k]) for k, v in arrays(resumed).items())
    assert resumed_optimizer.get_lr() == optimizer.get_lr()


@pytest.mark.parametrize("saved, resumed, file, message", [
    (("Adam", {}), ("Adam", {"channels": 8}), "model.pdparams",
     "parameter conv.weight has shape [4, 3, 3, 3] in the checkpoint but [8, 3, 3, 3] in Net (6 mismatched)"),
    (("SGD", {}), ("SGD", {"channels": 8}), "model.pdparams", "has shape [4, 3, 3, 3] in the checkpoint"),
    (("SGD", {}), ("SGD", {"extra": True}), "model.pdparams", "2 of 8 parameters of Net are missing (first: head"),
    (("SGD", {"extra": True}), ("SGD", {}), "model.pdparams", "holds 2 parameters that Net does not have (first: head"),
    (("SGD", {}), ("Adam", {}), "model.pdopt", "holds no per-parameter state but the config's Adam keeps "
                                               "per-parameter beta1_pow_acc, beta2_pow_acc, moment1, moment2"),
    (("Adam", {}), ("Momentum", {}), "model.pdopt", "holds per-parameter beta1_pow_acc, beta2_pow_acc, moment1, "
                                                    "moment2 but the config's Momentum keeps per-parameter velocity"),
    (("Adam", {"scheduler": False}), ("Adam", {}), "model.pdopt",
     "holds no state for the config's PolynomialDecay learning-rate scheduler"),
    (("Adam", {}), ("Adam", {"scheduler": False}), "model.pdopt",
     "holds a learning-rate scheduler's state but the config has none"),
])
def test_what_differs_is_named_with_the_checkpoint_file(tmp_path, saved, resumed, file, message):
    def build(kind, options):
        options = dict(options)
        scheduler = options.pop("scheduler", True)
        model = Net(**options)
        return model, optimizer_of(kind, model, scheduler)

    path = trained_checkpoint(tmp_path, *build(*saved))
    with pytest.raises(UserError) as error:
        CheckpointManager(str(tmp_path)).restore(path, *build(*resumed))
    assert str(error.value).startswith(os.path.join(path, file) + ": ") and message in str(error.value)


def test_an_optimizer_state_for_other_parameters_is_refused(tmp_path):
    model = Net()
    path = trained_checkpoint(tmp_path, model, optimizer_of("Adam", model))
    resumed = Net()
    resumed.conv.bias.stop_gradient = True  # frozen: Adam keeps no moments for it
    with pytest.raises(UserError, match=r"model.pdopt: the optimizer state has 4 accumulators the config's Adam "
                                        r"does not \(first: conv2d_\d+.b_0_moment1_0\)"):
        CheckpointManager(str(tmp_path)).restore(path, resumed, optimizer_of("Adam", resumed))


def test_resume_model_paths_that_are_not_checkpoints(tmp_path):
    model = Net()
    path = trained_checkpoint(tmp_path, model, optimizer_of("SGD", model))
    cases = {os.path.join(path, "model.pdparams"): "a file, not a checkpoint directory",
             str(tmp_path): "a save_dir, not a checkpoint; give one of its checkpoints (e.g. {})".format(path),
             str(tmp_path / "iter_9"): "directory not found"}
    for resume, message in cases.items():
        with pytest.raises(UserError) as error:
            checkpoint_files.load_dir(resume)
        assert str(error.value).startswith("--resume_model {}: {}".format(resume, message))
    os.remove(os.path.join(path, "model.pdopt"))
    with pytest.raises(UserError, match="missing model.pdopt; it is not a complete checkpoint"):
        checkpoint_files.load_dir(path)


def test_auto_refuses_to_start_afresh_over_checkpoints_it_cannot_read(tmp_path):
    model = Net()
    path = trained_checkpoint(tmp_path, model, optimizer_of("SGD", model))
    with open(os.path.join(path, "model.pdparams"), "wb") as f:
        f.write(b"truncated")
    with pytest.raises(UserError) as error:
        CheckpointManager(str(tmp_path)).restore("auto", model, optimizer_of("SGD", model))
    assert str(error.value) == (
        "--resume_model auto: none of the 1 checkpoints in {} can be read (see the warnings above); resume from "
        "another one, or remove them to start from scratch".format(tmp_path))
