"""static/trainer.py: static-graph training matches dygraph, state sync is exact, clear errors."""
import numpy as np
import paddle
import pytest
from paddle.base import unique_name

from paddleseg_lite.core.steps import DygraphStep, scheduler_step
from paddleseg_lite.static import StaticTrainer
from paddleseg_lite.registry import LOSSES, MODELS
from paddleseg_lite.models.losses import (BorderWeightedCELoss, CrossEntropyLoss, DiceLoss, LossSet,
                                          LovaszSoftmaxLoss, MixedLoss)
from paddleseg_lite.utils.errors import UserError


def _model_and_optimizer(opt, model_name="UNet"):
    paddle.seed(0)
    model = MODELS[model_name](num_classes=2, base_channels=4)
    model.train()
    scheduler = paddle.optimizer.lr.PolynomialDecay(0.01, decay_steps=20, end_lr=0.0, power=0.9)
    params = model.parameters()
    if opt == "momentum":
        optimizer = paddle.optimizer.Momentum(scheduler, momentum=0.9, weight_decay=4e-5, parameters=params)
    elif opt == "nesterov_clipped":
        optimizer = paddle.optimizer.Momentum(scheduler, momentum=0.9, use_nesterov=True, parameters=params,
                                              grad_clip=paddle.nn.ClipGradByGlobalNorm(0.1))
    elif opt == "sgd":
        optimizer = paddle.optimizer.SGD(scheduler, weight_decay=1e-3, parameters=params)
    elif opt == "adamw":
        optimizer = paddle.optimizer.AdamW(scheduler, weight_decay=0.01, parameters=params)
    else:
        optimizer = paddle.optimizer.Adam(scheduler, weight_decay=1e-4, parameters=params)
    return model, optimizer


def _losses(kind):
    if kind == "dice":
        return {"types": [DiceLoss()], "coef": [1.0]}
    if kind == "mixed":
        return {"types": [MixedLoss([CrossEntropyLoss(), DiceLoss()], [0.6, 0.4])], "coef": [1.0]}
    return {"types": [LOSSES[kind]()], "coef": [1.0]}


def _batches(n=3, size=32):
    rng = np.random.RandomState(1)
    out = []
    for _ in range(n):
        label = rng.randint(0, 2, (2, size, size)).astype("int64")
        label[0, :2] = 255
        out.append((rng.rand(2, 3, size, size).astype("float32"), label))
    return out


def _accumulators(optimizer, model):
    """{(kind, state_dict key): array} of the optimizer's accumulators."""
    key_of = {t.name: k for k, t in model.state_dict().items()}
    return {(kind, key_of[pname]): t.numpy() for kind, per in optimizer._accumulators.items()
            for pname, t in per.items()}


def _max_diff(a, b):
    assert a.keys() == b.keys()
    diffs = [float(np.abs(np.asarray(a[k], np.float64) - np.asarray(b[k], np.float64)).max()) for k in a]
    return max(diffs, default=0.0)


def _state(model):
    return {k: v.numpy() for k, v in model.state_dict().items()}


STATIC_LOSSES = sorted(set(LOSSES.components_dict) - {"MixedLoss", "BorderWeightedCELoss", "LovaszSoftmaxLoss"})


# Every registered loss the static step builds (MixedLoss as "mixed"), every optimizer it mirrors, every
# registered model, over 20 steps with the program rewrites (oneDNN conv bias) on unless oneDNN is off.
# The steps run in lockstep: before each one the program takes the dygraph state (sync_from), so each
# step is compared alone. Free-running, rounding differences of ~1e-7 (oneDNN sums in another order)
# grow chaotically in these tiny models (ReLU / max-pool ties, BatchNorm on 2 x 2 maps): 1e-5..1e-3
# after 20 steps whether or not the rewrites run. Adam runs with oneDNN off: the conv biases in front of
# a BatchNorm have a zero true gradient, so Adam moves them by +-lr along the sign of float noise, which
# any change of the conv kernel flips. Accumulators (sums of gradients of ~0.1-1, each a sum over every
# pixel) agree to 1e-5.
@pytest.mark.parametrize("model_name, loss_kind, opt, onednn", [
    *[("UNet", loss, "momentum", True) for loss in STATIC_LOSSES],
    ("UNet", "mixed", "momentum", True), ("UNet", "dice", "nesterov_clipped", True), ("UNet", "dice", "sgd", True),
    ("UNet", "dice", "adam", False), ("UNet", "mixed", "adam", False), ("UNet", "dice", "adamw", False),
    ("AttentionUNet", "mixed", "momentum", True), ("ResUNet", "mixed", "momentum", True),
    ("UNetPlusPlus", "mixed", "momentum", True)])
def test_static_steps_match_dygraph(model_name, loss_kind, opt, onednn):
    # One CPU thread (Paddle's state at start; in-process trainer tests leave 2): the test batches hold equal
    # pixels, and with 2 threads the float noise between oneDNN's and Paddle's convolutions breaks a max-pool
    # tie the other way at some steps (UNet + BCE, steps 15 and 20), so one step's gradient routes to another
    # pixel and the momentum of every weight upstream moves by ~1e-3, though nothing is wrong.
    paddle.base.core.set_num_threads(1)
    model, optimizer = _model_and_optimizer(opt, model_name)
    step = DygraphStep(model, LossSet.coerce(_losses(loss_kind)), optimizer)
    s_model, s_optimizer = _model_and_optimizer(opt, model_name)
    trainer = StaticTrainer(s_model, _losses(loss_kind), s_optimizer, onednn=onednn)
    for it, (img, label) in enumerate(_batches(20), 1):
        if it > 1:
            trainer.sync_from(model, optimizer)
        static = trainer.step(paddle.to_tensor(img), label)
        dygraph = step({"img": paddle.to_tensor(img), "label": paddle.to_tensor(label)}, it)
        scheduler_step(optimizer, sum(dygraph))
        scheduler_step(s_optimizer, sum(static))
        np.testing.assert_allclose(static, dygraph, rtol=0, atol=1e-6)
    trainer.sync_to(s_model, s_optimizer)
    assert len(static) == (2 if loss_kind == "mixed" else 1)
    assert _max_diff(_state(model), _state(s_model)) < 2e-6  # oneDNN's summation order: ~1e-6 after 20 updates
    assert _max_diff(_accumulators(optimizer, model), _accumulators(s_optimizer, s_model)) < 1e-5
    assert s_optimizer.get_lr() == optimizer.get_lr()
    assert s_optimizer.state_dict()["LR_Scheduler"] == optimizer.state_dict()["LR_Scheduler"]


def _scope_state(trainer):
    return {name: trainer._scope_get(name) for name in list(trainer.vars.values()) + list(
        trainer.accumulators.values())}


def test_sync_round_trip_is_exact_and_survives_a_checkpoint():
    batches = _batches(3)
    model, optimizer = _model_and_optimizer("adam")
    trainer = StaticTrainer(model, _losses("mixed"), optimizer)
    for img, label in batches[:2]:
        trainer.step(img, label)
        scheduler_step(optimizer, 0.0)
    trained = _scope_state(trainer)

    # into another model/optimizer (other tensor names): matched by state_dict key and accumulator kind;
    # unique_name.guard() gives the names of a fresh process, as a saving and a resuming run have
    with unique_name.guard():
        other, other_opt = _model_and_optimizer("adam")
        trainer.sync_to(other, other_opt)
    for key, name in trainer.vars.items():
        np.testing.assert_array_equal(other.state_dict()[key].numpy(), trained[name])
    assert other_opt.state_dict()["LR_Scheduler"] == optimizer.state_dict()["LR_Scheduler"]

    # a checkpoint of it loaded into fresh objects (accumulators still held, not created), then back in
    trainer.step(*batches[2])
    assert _max_diff(_scope_state(trainer), trained) > 0
    with unique_name.guard():
        resumed, resumed_opt = _model_and_optimizer("adam")
        resumed.set_state_dict(other.state_dict())
        resumed_opt.set_state_dict(other_opt.state_dict())
        assert not resumed_opt._accumulators
        trainer.sync_from(resumed, resumed_opt)
    after = _scope_state(trainer)
    assert after.keys() == trained.keys()
    for name in trained:
        np.testing.assert_array_equal(after[name], trained[name])
    assert trainer.static_optimizer._learning_rate.last_epoch == resumed_opt._learning_rate.last_epoch


def test_static_training_continues_like_dygraph_after_sync_from():
    batches = _batches(2)
    model, optimizer = _model_and_optimizer("momentum")
    step = DygraphStep(model, LossSet.coerce(_losses("dice")), optimizer)
    expected = []
    for it, (img, label) in enumerate(batches, 1):
        expected.append(step({"img": paddle.to_tensor(img), "label": paddle.to_tensor(label)}, it))
        optimizer._learning_rate.step()

    s_model, s_optimizer = _model_and_optimizer("momentum")
    trainer = StaticTrainer(s_model, _losses("dice"), s_optimizer)
    trainer.step(*batches[1])  # builds the program and moves it away from the initial state
    # a dygraph step on the first batch, then hand over to the static program
    step_one, step_one_opt = _model_and_optimizer("momentum")
    first = DygraphStep(step_one, LossSet.coerce(_losses("dice")), step_one_opt)(
        {"img": paddle.to_tensor(batches[0][0]), "label": paddle.to_tensor(batches[0][1])}, 1)
    step_one_opt._learning_rate.step()
    trainer.sync_from(step_one, step_one_opt)
    second = trainer.step(*batches[1])
    np.testing.assert_allclose([first, second], expected, atol=1e-5)


@pytest.mark.parametrize("loss, name", [(LovaszSoftmaxLoss(), "LovaszSoftmaxLoss"),
                                        (BorderWeightedCELoss(), "BorderWeightedCELoss"),
                                        (CrossEntropyLoss(top_k_percent_pixels=0.5), "CrossEntropyLoss")])
def test_a_loss_without_a_static_graph_gives_a_clear_error(loss, name):
    model, optimizer = _model_and_optimizer("momentum")
    trainer = StaticTrainer(model, {"types": [MixedLoss([DiceLoss(), loss], [0.5, 0.5])], "coef": [1.0]}, optimizer)
    with pytest.raises(UserError, match=r"the loss {} cannot be built as a static graph .*train without "
                                        r"--to_static_training".format(name)):
        trainer.step(*_batches(1)[0])
    # the build-time patches are gone and dygraph mode is back
    assert paddle.in_dynamic_mode()
    assert "__bool__" not in paddle.base.framework.Variable.__dict__
    assert float(paddle.sum(paddle.ones([2, 2]))) == 4.0


def test_label_values_are_checked_before_feeding():
    model, optimizer = _model_and_optimizer("momentum")
    trainer = StaticTrainer(model, _losses("mixed"), optimizer)
    img, label = _batches(1)[0]
    trainer.step(img, label)
    label[1, 0, 0] = 2
    with pytest.raises(UserError, match=r"CrossEntropyLoss: label values \[2\] are outside \[0, 2\) and not ignore_index 255"):
        trainer.step(img, label)


def test_batches_of_another_shape_are_refused():
    model, optimizer = _model_and_optimizer("momentum")
    trainer = StaticTrainer(model, _losses("dice"), optimizer)
    trainer.step(*_batches(1, size=32)[0])
    with pytest.raises(UserError, match="batches of one shape"):
        trainer.step(*_batches(1, size=48)[0])
