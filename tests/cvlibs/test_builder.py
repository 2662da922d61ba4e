import paddle
import pytest
import yaml

from paddleseg_lite.cvlibs import builder
from paddleseg_lite.cvlibs.config import Config
from paddleseg_lite.utils.errors import UserError



def write(path, dic):
    with open(path, "w") as f:
        yaml.safe_dump(dic, f)
    return str(path)


def synthetic(mode="train", **extra):
    return dict(type="SyntheticVessels", mode=mode, num_samples=2, image_size=32, **extra)


def test_unknown_type_suggests_close_match():
    with pytest.raises(UserError, match=r"^model: .*'UNett'.*Did you mean UNet\b"):
        builder.build_model({"model": {"type": "UNett"}})


def test_argument_typo_names_path_type_and_valid_arguments():
    cfg = synthetic(transforms=[{"type": "Normalize"}, {"type": "RandomPaddingCrop", "crop_szie": [8, 8]}])
    with pytest.raises(UserError) as e:
        builder.build_dataset({"train_dataset": cfg}, "train_dataset")
    msg = str(e.value)
    assert msg.startswith("train_dataset.transforms[1] (RandomPaddingCrop): unknown argument 'crop_szie'")
    assert "Did you mean 'crop_size'?" in msg and "Valid arguments: crop_size" in msg


def test_constructor_error_is_prefixed_with_path():
    cfg = synthetic(transforms=[{"type": "ResizeStepScaling", "min_scale_factor": 2.0, "max_scale_factor": 1.0}])
    with pytest.raises(UserError, match=r"^train_dataset\.transforms\[0\] \(ResizeStepScaling\): "):
        builder.build_dataset({"train_dataset": cfg}, "train_dataset")


def test_missing_required_argument_is_named():
    with pytest.raises(UserError, match="missing required argument.*coef"):
        builder.build_component({"type": "MixedLoss", "losses": []}, "loss.types[0]")


def test_transform_lists_are_built_recursively():
    ds = builder.build_dataset({"train_dataset": synthetic(transforms=[{"type": "Normalize"}])}, "train_dataset")
    assert type(ds).__name__ == "SyntheticVessels" and len(ds) == 2


def test_model_and_loss_take_dataset_facts_and_conflicts_fail():
    dic = {"train_dataset": synthetic(), "model": {"type": "UNet", "base_channels": 4},
           "loss": {"types": [{"type": "DiceLoss"}], "coef": [1, 0.5]}}
    model = builder.build_model(dic)
    assert model.cls.weight.shape[0] == 2
    loss = builder.build_loss(dic)
    assert len(loss["types"]) == 2 and loss["coef"] == [1.0, 0.5] and loss["types"][0] is not loss["types"][1]
    assert loss["types"][0].ignore_index == 255
    dic["model"]["num_classes"] = 3
    with pytest.raises(UserError, match=r"model\.num_classes is 3 but the dataset says 2"):
        builder.build_model(dic)
    dic["model"]["num_classes"] = 1  # a binary sigmoid model on a 2-class dataset is fine
    assert builder.build_model(dic).cls.weight.shape[0] == 1
    dic["loss"]["types"][0]["ignore_index"] = 0
    with pytest.raises(UserError, match="ignore_index is 0 but the dataset says 255"):
        builder.build_loss(dic)


def test_loss_types_coef_mismatch():
    dic = {"loss": {"types": [{"type": "DiceLoss"}, {"type": "DiceLoss"}], "coef": [1, 1, 1]}}
    with pytest.raises(UserError, match="2 entries but loss.coef has 3"):
        builder.build_loss(dic)


def test_lr_scheduler_defaults_and_warmup():
    dic = {"iters": 100, "lr_scheduler": {"type": "PolynomialDecay", "learning_rate": 0.1, "power": 1.0,
                                          "end_lr": 0.0}}
    sched = builder.build_lr_scheduler(dic)
    for _ in range(50):
        sched.step()
    assert sched() == pytest.approx(0.05)
    dic["lr_scheduler"].update(warmup_iters=10, warmup_start_lr=0.0)
    sched = builder.build_lr_scheduler(dic)
    assert isinstance(sched, paddle.optimizer.lr.LinearWarmup)
    for _ in range(5):
        sched.step()
    assert sched() == pytest.approx(0.05)
    for _ in range(5 + 45):  # end of warmup, then half of the 90 decay steps
        sched.step()
    assert sched() == pytest.approx(0.05)
    with pytest.raises(UserError, match="Did you mean PolynomialDecay"):
        builder.build_lr_scheduler({"iters": 1, "lr_scheduler": {"type": "PolynomalDecay"}})


def test_optimizer_sgd_with_momentum_becomes_momentum():
    model = paddle.nn.Linear(2, 2)
    opt = builder.build_optimizer({"type": "SGD", "momentum": 0.9, "weight_decay": 4e-5}, model, 0.1)
    assert isinstance(opt, paddle.optimizer.Momentum)
    assert isinstance(builder.build_optimizer({"type": "sgd"}, model, 0.1), paddle.optimizer.SGD)
    assert isinstance(builder.build_optimizer({"type": "AdamW", "weight_decay": 0.01}, model, 0.1),
                      paddle.optimizer.AdamW)
    with pytest.raises(UserError, match="optimizer.type 'Adagrad' is not supported"):
        builder.build_optimizer({"type": "Adagrad"}, model, 0.1)


def test_config_builds_everything_from_yaml(tmp_path):
    path = write(tmp_path / "c.yml", {
        "batch_size": 2, "iters": 4, "train_dataset": synthetic(transforms=[{"type": "Normalize"}]),
        "val_dataset": synthetic("val", transforms=[{"type": "Normalize"}]),
        "model": {"type": "UNet", "base_channels": 4}, "loss": {"types": [{"type": "DiceLoss"}], "coef": [1]},
        "optimizer": {"type": "SGD", "momentum": 0.9}, "lr_scheduler": {"type": "PolynomialDecay",
                                                                         "learning_rate": 0.01}})
    cfg = Config(path)
    cfg.check_train()
    assert isinstance(cfg.optimizer, paddle.optimizer.Momentum)
    assert cfg.model is cfg.model  # built once
    assert len(cfg.val_dataset) == 2
