"""static/rewrites.py: the program rewrites happen where their pattern is, nowhere else, and keep training
exact in fp32 (tests/static/test_trainer.py: every loss, optimizer and model) and close in bf16."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest
from paddle.base import core

from paddleseg_lite.core.steps import DygraphStep
from paddleseg_lite.models.losses import CrossEntropyLoss, DiceLoss, LossSet, MixedLoss
from paddleseg_lite.registry import MODELS
from paddleseg_lite.static import StaticTrainer
from paddleseg_lite.utils.errors import UserError

BF16, FP32 = core.VarDesc.VarType.BF16, core.VarDesc.VarType.FP32
LOSSES = {"types": [MixedLoss([CrossEntropyLoss(), DiceLoss()], [0.6, 0.4])], "coef": [1.0]}


class OddConvs(nn.Layer):
    """The convolutions rewrite A must leave alone or handle: no bias, depthwise (grouped), transposed,
    1x1, and a bias add not on a convolution (the residual add)."""

    def __init__(self):
        super().__init__()
        self.plain = nn.Conv2D(3, 4, 3, padding=1, bias_attr=False)
        self.bn = nn.BatchNorm2D(4)
        self.depthwise = nn.Conv2D(4, 4, 3, padding=1, groups=4)
        self.transposed = nn.Conv2DTranspose(4, 4, 2, stride=2)
        self.head = nn.Conv2D(4, 2, 1)

    def forward(self, x):
        y = nn.functional.relu(self.bn(self.plain(x)))
        y = y + self.depthwise(y)
        y = self.transposed(nn.functional.max_pool2d(y, 2))
        return [self.head(y)]


def _model(name, opt="momentum"):
    paddle.seed(0)
    model = OddConvs() if name == "OddConvs" else MODELS[name](num_classes=2, base_channels=4)
    model.train()
    if opt == "adam":
        return model, paddle.optimizer.Adam(0.01, parameters=model.parameters())
    return model, paddle.optimizer.Momentum(0.01, momentum=0.9, parameters=model.parameters())


def _batch(seed=1, size=32):
    rng = np.random.RandomState(seed)
    return rng.rand(2, 3, size, size).astype("float32"), rng.randint(0, 2, (2, size, size)).astype("int64")


def _trainer(name, precision="fp32", opt="momentum"):
    model, optimizer = _model(name, opt)
    return StaticTrainer(model, LOSSES, optimizer, precision=precision), model, optimizer


def _ops(trainer):
    return list(trainer.program.global_block().ops)


def _conv_bias_adds(ops):
    producer = {name: op for op in ops for name in op.output_arg_names}
    return [op for op in ops if op.type == "elementwise_add" and producer[op.input("X")[0]].type == "conv2d"]


@pytest.mark.parametrize("name", ["UNet", "AttentionUNet", "ResUNet", "UNetPlusPlus", "OddConvs"])
def test_conv_bias_rewrite_where_a_conv2d_has_a_bias_and_nowhere_else(name, capsys):
    trainer, model, _ = _trainer(name)
    trainer.step(*_batch())
    ops = _ops(trainer)
    biased = [layer for layer in model.sublayers() if type(layer) is nn.Conv2D and layer.bias is not None
              and layer._groups == 1]
    adds = _conv_bias_adds(ops)
    assert len(adds) == len(biased) and all(op.attr("use_mkldnn") for op in adds)
    x_grads = {op.input("X")[0] + "@GRAD" for op in adds}
    grads = [op for op in ops if op.type == "elementwise_add_grad"]
    assert not [op for op in grads if op.input("X")[0] in {add.input("X")[0] for add in adds}]
    assert not [name for op in ops for name in op.input_arg_names if name in x_grads]
    sums = [op for op in ops if op.type == "reduce_sum" and op.attr("dim") == [0, 2, 3] and op.attr("keep_dim")]
    assert len(sums) == len(biased)
    # the other adds (residuals, depthwise / transposed conv biases, the loss) and their gradients stay
    assert not [op for op in ops if op.type == "elementwise_add" and op not in adds and op.attr("use_mkldnn")]
    model, optimizer = _model(name)
    plain = StaticTrainer(model, LOSSES, optimizer, onednn=False)
    plain.step(*_batch())
    plain_grads = [op for op in _ops(plain) if op.type == "elementwise_add_grad"]
    assert len(grads) == len(plain_grads) - len(biased)
    assert "oneDNN on conv2d + conv bias)" in capsys.readouterr().out
    assert all(not op.has_attr("onednn_data_type") or op.attr("onednn_data_type") != "bfloat16" for op in ops)


def test_the_odd_convolutions_train_as_in_dygraph():
    trainer, _, _ = _trainer("OddConvs")
    model, optimizer = _model("OddConvs")
    step = DygraphStep(model, LossSet.coerce(LOSSES), optimizer)
    for it in range(1, 6):
        img, label = _batch(it)
        static = trainer.step(img, label)
        dygraph = step({"img": paddle.to_tensor(img), "label": paddle.to_tensor(label)}, it)
        np.testing.assert_allclose(static, dygraph, rtol=0, atol=1e-6)


def test_bf16_convolutions_in_the_program_and_the_log(capsys):
    trainer, _, _ = _trainer("AttentionUNet", "bf16")
    trainer.step(*_batch())
    ops = _ops(trainer)
    convs = [op for op in ops if op.type in ("conv2d", "conv2d_grad")]
    assert convs and all(op.attr("onednn_data_type") == "bfloat16" and op.attr("use_mkldnn") for op in convs)
    assert all(op.attr("force_fp32_output") for op in convs if op.type == "conv2d")
    block = trainer.program.global_block()
    for op in convs:
        if op.type == "conv2d_grad":
            ins = op.input("Input") + op.input("Filter") + op.input("Output@GRAD")
            assert {block.var(n).dtype for n in ins + op.output("Filter@GRAD")} == {BF16}
    # parameters, their gradients and the optimizer state stay fp32
    assert {p.dtype for p in block.all_parameters()} == {FP32}
    assert not _conv_bias_adds([op for op in ops if op.type == "elementwise_add_grad"])
    assert "oneDNN on conv2d + conv bias, bf16 convolutions)" in capsys.readouterr().out


def test_bf16_losses_stay_close_to_fp32_and_decrease():
    img, label = _batch(size=64)
    runs = {}
    for precision in ("fp32", "bf16"):
        trainer, _, _ = _trainer("UNet", precision)
        runs[precision] = [sum(trainer.step(img, label)) for _ in range(20)]
    np.testing.assert_allclose(runs["bf16"], runs["fp32"], rtol=1e-2)
    assert runs["bf16"][-1] < runs["bf16"][0] - 0.05


def test_sync_round_trip_is_exact_in_bf16():
    trainer, model, optimizer = _trainer("UNet", "bf16", opt="adam")
    trainer.step(*_batch(1))
    trainer.sync_to(model, optimizer)
    trained = {k: v.numpy() for k, v in model.state_dict().items()}
    other, other_opt = _model("UNet", "adam")
    trainer.step(*_batch(2))
    trainer.sync_from(model, optimizer)  # back to the state after the first step
    trainer.sync_to(other, other_opt)
    for key, value in other.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), trained[key])
    # and training goes on from there as it did the first time
    again = trainer.step(*_batch(2))
    fresh = _trainer("UNet", "bf16", opt="adam")[0]
    fresh.step(*_batch(1))
    assert again == fresh.step(*_batch(2))


@pytest.mark.parametrize("kwargs, message", [
    ({"precision": "fp16"}, r"precision must be one of fp32, bf16, got 'fp16'"),
    ({"precision": "bf16", "onednn": False}, r"bf16 training needs oneDNN")])
def test_bad_precision_is_refused_at_construction(kwargs, message):
    model, optimizer = _model("UNet")
    with pytest.raises(UserError, match=message):
        StaticTrainer(model, LOSSES, optimizer, **kwargs)
