"""The product's promise: swap the model or the loss by editing YAML, and training still runs."""
import numpy as np
import pytest
import yaml

from paddleseg_lite.core.train import train
from paddleseg_lite.cvlibs import Config

BASE = {
    "batch_size": 2, "iters": 2,
    "train_dataset": {"type": "SyntheticVessels", "mode": "train", "num_samples": 2, "image_size": 32,
                      "transforms": [{"type": "Normalize"}]},
    "model": {"type": "UNet", "base_channels": 4},
    "loss": {"types": [{"type": "DiceLoss"}], "coef": [1]},
    "optimizer": {"type": "SGD", "momentum": 0.9},
    "lr_scheduler": {"type": "PolynomialDecay", "learning_rate": 0.01},
}

MODELS = [{"type": "UNet", "base_channels": 4, "use_deconv": True},
          {"type": "AttentionUNet", "base_channels": 4},
          {"type": "ResUNet", "base_channels": 4},
          {"type": "UNetPlusPlus", "base_channels": 4}]

LOSSES = [{"type": "CrossEntropyLoss"}, {"type": "BCELoss"}, {"type": "FocalLoss"},
          {"type": "LovaszSoftmaxLoss"}, {"type": "BorderWeightedCELoss"}, {"type": "clDiceLoss"},
          {"type": "MixedLoss", "losses": [{"type": "CrossEntropyLoss"}, {"type": "DiceLoss"}], "coef": [1, 1]}]


def run(tmp_path, **changes):
    dic = dict(BASE, **changes)
    path = tmp_path / "swap.yml"
    path.write_text(yaml.safe_dump(dic))
    cfg = Config(str(path))
    model = cfg.model
    before = [p.numpy().copy() for p in model.parameters() if not p.stop_gradient]
    train(model, cfg.train_dataset, optimizer=cfg.optimizer, losses=cfg.loss, iters=cfg.iters,
          batch_size=cfg.batch_size, save_dir=str(tmp_path / "out"), log_iters=1, save_interval=100, seed=0)
    after = [p.numpy() for p in model.parameters() if not p.stop_gradient]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after)), "training did not update weights"
    assert (tmp_path / "out" / "iter_2" / "model.pdparams").is_file()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m["type"] + ("_deconv" if m.get("use_deconv") else ""))
def test_each_model_trains_from_yaml(tmp_path, model):
    run(tmp_path, model=model)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda l: l["type"])
def test_each_loss_trains_from_yaml(tmp_path, loss):
    run(tmp_path, loss={"types": [loss], "coef": [1]})


def test_binary_sigmoid_model_trains_with_dice(tmp_path):
    run(tmp_path, model={"type": "UNet", "base_channels": 4, "num_classes": 1})


def test_deep_supervision_uses_one_coef_per_output(tmp_path):
    run(tmp_path, model={"type": "UNetPlusPlus", "base_channels": 4, "deep_supervision": True},
        loss={"types": [{"type": "DiceLoss"}], "coef": [1, 0.5, 0.25, 0.125]})
