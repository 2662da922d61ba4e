"""core/ema.py (use_ema): PaddleSeg's EMA rule against a numpy reference, in dygraph and in the static step;
a resumed run keeps the EMA bit for bit; ema_best_model follows the best EMA evaluation."""
import os
import shutil

import numpy as np
import paddle
import pytest

from tool_runner import CONFIG, TINY
from paddleseg_lite.core import Trainer
from paddleseg_lite.core.checkpoint import CheckpointManager
from paddleseg_lite.core.ema import ModelEMA, ema_decay
from paddleseg_lite.cvlibs import Config
from paddleseg_lite.models import UNet
from paddleseg_lite.models.losses import CrossEntropyLoss
from paddleseg_lite.static import StaticTrainer


def small_model():
    paddle.seed(0)
    return paddle.nn.Sequential(paddle.nn.Conv2D(1, 2, 3), paddle.nn.BatchNorm2D(2))


def arrays(state):
    return {k: np.array(v.numpy()) for k, v in state.items()}


def reference(states):
    """numpy float32: ema_0 = states[0]; ema_it = d * ema + (1 - d) * states[it], d = min(1 - 1/(it+1), .999)."""
    ema = {k: v.copy() for k, v in states[0].items()}
    for it, state in enumerate(states[1:], start=1):
        d = min(1.0 - 1.0 / (it + 1), 0.999)
        ema = {k: ema[k] * np.float32(d) + state[k] * np.float32(1.0 - d) for k in ema}
    return ema


def test_paddleseg_decay_schedule():
    assert [ema_decay(it) for it in (1, 3, 999)] == [0.5, 0.75, 0.999]
    assert ema_decay(2) == pytest.approx(2 / 3) and ema_decay(10 ** 6) == 0.999


def test_dygraph_update_matches_numpy_and_averages_batchnorm_statistics():
    model = small_model()
    ema = ModelEMA(model)
    rng = np.random.RandomState(0)
    states = [arrays(model.state_dict())]
    for it in (1, 2, 3):
        new = {k: rng.rand(*v.shape).astype(v.dtype) for k, v in states[0].items()}
        model.set_state_dict(new)
        ema.update(it)
        states.append(new)
    want, got = reference(states), arrays(ema.state_dict())
    assert sorted(got) == sorted(want) and "1._mean" in got and "1._variance" in got
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    assert ema.model.training is False


def test_static_step_keeps_the_same_ema_as_numpy():
    paddle.seed(0)
    model = UNet(num_classes=2, base_channels=4)
    model.train()
    optimizer = paddle.optimizer.Momentum(0.05, momentum=0.9, parameters=model.parameters())
    ema = ModelEMA(model)
    trainer = StaticTrainer(model, {"types": [CrossEntropyLoss()], "coef": [1.0]}, optimizer, ema=ema)
    rng = np.random.RandomState(1)
    states = [arrays(model.state_dict())]
    for it in (1, 2, 3):
        trainer.step(rng.rand(2, 3, 32, 32).astype("float32"), rng.randint(0, 2, (2, 32, 32)), it)
        trainer.sync_to(model, optimizer)
        states.append(arrays(model.state_dict()))
    want, got = reference(states), arrays(ema.state_dict())
    assert any(not np.array_equal(states[3][k], got[k]) for k in got)  # the EMA lags the weights
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def run(save_dir, static, resume=None):
    cfg = Config(CONFIG, opts=TINY + ["iters=4", "save_interval=2", "seed=3", "use_ema=True", "log_iters=100",
                                      "to_static_training={}".format(static), "keep_checkpoint_max=0"])
    Trainer.from_config(cfg, str(save_dir)).train(resume)


@pytest.mark.parametrize("static", [True, False])
def test_a_resumed_run_ends_with_the_same_ema_bit_for_bit(tmp_path, static):
    """4 iterations saving at 2, against iter_2 of that run resumed (--resume_model auto) to 4."""
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    run(whole, static)
    shutil.copytree(whole / "iter_2", resumed / "iter_2")
    run(resumed, static, "auto")
    for name in ("ema_model.pdparams", "model.pdparams"):
        a, b = (arrays(paddle.load(str(d / "iter_4" / name))) for d in (whole, resumed))
        assert sorted(a) == sorted(b)
        assert [k for k in a if not np.array_equal(a[k], b[k])] == [], name
    ema, weights = (arrays(paddle.load(str(whole / "iter_4" / n))) for n in ("ema_model.pdparams", "model.pdparams"))
    assert any(not np.array_equal(ema[k], weights[k]) for k in ema)


def test_ema_best_model_follows_the_best_ema_evaluation_and_survives_a_resume(tmp_path):
    model = small_model()
    manager = CheckpointManager(str(tmp_path), keep_checkpoint_max=0)
    optimizer = paddle.optimizer.SGD(0.1, parameters=model.parameters())
    saved = {}
    for it, (miou, ema_miou) in zip((2, 4, 6), ((0.1, 0.3), (0.2, 0.5), (0.3, 0.4))):
        ema = ModelEMA(model)
        ema.model.set_state_dict({k: np.full(v.shape, it, "float32") for k, v in ema.model.state_dict().items()})
        saved[it] = ema
        manager.save(it, model, optimizer, {"seed": 0}, eval_pending=True, ema=ema)
        manager.record_ema_evaluation(it, ema.model, {"mIoU": ema_miou, "Acc": 0.9})
        manager.record_evaluation(it, model, optimizer, {"mIoU": miou, "Acc": 0.8}, {"seed": 0}, ema=True)
    best = tmp_path / "ema_best_model"
    assert sorted(os.listdir(best)) == ["ema_model.pdparams", "ema_model.pdstates"]
    assert paddle.load(str(best / "ema_model.pdstates")) == {"mIoU": 0.5, "Acc": 0.9, "iter": 4}
    assert np.all(paddle.load(str(best / "ema_model.pdparams"))["0.weight"].numpy() == 4)
    assert paddle.load(str(tmp_path / "iter_6" / "ema_model.pdstates")) == {"mIoU": 0.4, "Acc": 0.9, "iter": 6}
    states = paddle.load(str(tmp_path / "iter_6" / "model.pdstates"))
    assert (states["best_iter"], states["ema_best_metric"], states["ema_best_iter"]) == (6, 0.5, 4)
    again = CheckpointManager(str(tmp_path))
    ema = ModelEMA(small_model())
    again.restore(str(tmp_path / "iter_6"), small_model(), optimizer, ema)
    assert (again.ema_best, again.ema_best_iter) == (0.5, 4)
    assert np.all(ema.state_dict()["1._mean"].numpy() == 6)
