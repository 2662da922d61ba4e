import copy

import numpy as np
import paddle
import pytest
import yaml

from paddleseg_lite.cvlibs import builder, manager
from paddleseg_lite.cvlibs.config import Config
from paddleseg_lite.utils.errors import UserError


def write(path, dic):
    with open(path, "w") as f:
        yaml.safe_dump(dic, f)
    return str(path)


def synthetic(mode="train", **extra):
    return dict(type="SyntheticVessels", mode=mode, num_samples=2, image_size=32, **extra)


def generic(mode="val", **extra):
    """A generic `Dataset` entry: facts come only from its keys (never built in these tests)."""
    return dict(type="Dataset", mode=mode, dataset_root="nowhere", **extra)


def message(excinfo):
    return str(excinfo.value)


# ---- check_arguments / build_component ---------------------------------------------------------

def test_argument_typo_names_path_type_and_valid_arguments():
    cfg = synthetic(transforms=[{"type": "Normalize"}, {"type": "RandomPaddingCrop", "crop_szie": [8, 8]}])
    with pytest.raises(UserError) as e:
        builder.build_dataset({"train_dataset": cfg}, "train_dataset")
    msg = message(e)
    assert msg.startswith("train_dataset.transforms[1] (RandomPaddingCrop): unknown argument 'crop_szie'. "
                          "Did you mean 'crop_size'? Valid arguments: crop_size, im_padding_value, ")


def f_two(a, b=1, *rest, c, **kw):
    return a


def f_plain(a, b=1, *rest, c=2):
    return a + b + c


def test_check_arguments_on_functions_lists_names_without_hint():
    builder.check_arguments(f_two, {"a": 1, "zzz": 2}, "x")  # **kw takes anything
    with pytest.raises(UserError) as e:
        builder.check_arguments(f_plain, {"a": 1, "zzz": 2}, "model.head")
    assert message(e) == "model.head (f_plain): unknown argument 'zzz'. Valid arguments: a, b, c"


def test_check_arguments_missing_required_are_all_named():
    def needs(a, b, *args, c=1):
        return a

    with pytest.raises(UserError) as e:
        builder.check_arguments(needs, {"c": 2}, "loss.types[0]")
    assert message(e) == "loss.types[0] (needs): missing required argument(s) a, b. Valid arguments: a, b, c"


def test_missing_required_argument_of_a_class_is_named():
    with pytest.raises(UserError) as e:
        builder.build_component({"type": "MixedLoss", "losses": []}, "loss.types[0]")
    assert message(e) == ("loss.types[0] (MixedLoss): missing required argument(s) coef. "
                          "Valid arguments: losses, coef, ignore_index")


@pytest.mark.parametrize("cfg", [{"num_classes": 2}, [1], "UNet"])
def test_build_component_needs_a_type_mapping(cfg):
    with pytest.raises(UserError) as e:
        builder.build_component(cfg, "model")
    assert message(e) == "model: expected a mapping with a 'type' key, got {!r}".format(cfg)


def test_lookup_uses_the_given_registry():
    with pytest.raises(UserError) as e:
        builder.build_component({"type": "UNet", "num_classes": 2}, "loss.types[0]", manager.LOSSES)
    assert message(e).startswith("loss.types[0]: 'UNet' is not in the losses registry. Registered: ")
    with pytest.raises(UserError) as e:
        builder.build_component({"type": "UNett"}, "x")  # no registry: all are searched
    assert message(e).startswith("x: Unknown type 'UNett'. Did you mean UNet")


def test_nested_transforms_are_looked_up_in_the_transforms_registry():
    cfg = synthetic(transforms=[{"type": "Normalize"}, {"type": "Normalise"}])
    with pytest.raises(UserError) as e:
        builder.build_dataset({"train_dataset": cfg}, "train_dataset")
    assert message(e).startswith("train_dataset.transforms[1]: 'Normalise' is not in the transforms registry. "
                                 "Did you mean Normalize? Registered: ")
    with pytest.raises(UserError, match=r"^train_dataset: 'UNet' is not in the datasets registry"):
        builder.build_dataset({"train_dataset": {"type": "UNet", "num_classes": 2}}, "train_dataset")


def test_constructor_error_is_prefixed_with_path_and_keeps_its_message():
    cfg = synthetic(transforms=[{"type": "ResizeStepScaling", "min_scale_factor": 2.0, "max_scale_factor": 1.0}])
    with pytest.raises(UserError) as e:
        builder.build_dataset({"train_dataset": cfg}, "train_dataset")
    assert message(e) == ("train_dataset.transforms[0] (ResizeStepScaling): min_scale_factor "
                          "(2.0) must not exceed max_scale_factor (1.0).")


def test_transform_lists_are_built_recursively_with_their_arguments():
    cfg = synthetic(transforms=[{"type": "Resize", "target_size": [16, 16]}, {"type": "Normalize", "mean": 0.0,
                                                                               "std": 1.0}])
    ds = builder.build_dataset({"train_dataset": cfg}, "train_dataset")
    resize, normalize = ds.transforms.transforms
    assert type(ds).__name__ == "SyntheticVessels" and len(ds) == 2
    assert type(resize).__name__ == "Resize" and tuple(resize.target_size) == (16, 16)
    assert normalize.mean.tolist() == [0.0] and normalize.std.tolist() == [1.0]
    assert ds[0]["img"].shape == (3, 16, 16)


class Keeper:
    def __init__(self, items, inner=None):
        items.append("touched")
        inner["k"].append("touched")
        self.items, self.inner = items, inner


def test_build_component_leaves_the_config_untouched():
    reg = manager.ComponentManager("things")
    reg.add_component(Keeper)
    cfg = {"type": "Keeper", "items": [1], "inner": {"k": []}}
    before = copy.deepcopy(cfg)
    built = builder.build_component(cfg, "thing", reg)
    assert cfg == before
    assert built.items == [1, "touched"] and built.inner == {"k": ["touched"]}


# ---- dataset facts and their flow into the model and the losses --------------------------------

def test_dataset_facts_come_from_class_constants_or_keys():
    assert builder.dataset_facts({"train_dataset": synthetic()}) == {
        "num_classes": 2, "ignore_index": 255, "img_channels": 3}
    dic = {"train_dataset": None, "val_dataset": generic(num_classes=4, img_channels=1)}
    assert builder.dataset_facts(dic) == {"num_classes": 4, "img_channels": 1}
    assert builder.dataset_facts({"val_dataset": generic(ignore_index=0)}) == {"ignore_index": 0}


def test_dataset_facts_train_and_val_must_agree():
    dic = {"train_dataset": synthetic(), "val_dataset": generic(num_classes=2, img_channels=1)}
    with pytest.raises(UserError) as e:
        builder.dataset_facts(dic)
    assert message(e) == "train_dataset and val_dataset disagree on img_channels: 3 vs 1"


def test_dataset_facts_unknown_dataset_type_names_the_key():
    with pytest.raises(UserError) as e:
        builder.dataset_facts({"val_dataset": {"type": "UNet"}})
    assert message(e).startswith("val_dataset: 'UNet' is not in the datasets registry. Registered: ")


def test_model_and_loss_take_dataset_facts_and_conflicts_fail():
    dic = {"train_dataset": synthetic(), "model": {"type": "UNet", "base_channels": 4},
           "loss": {"types": [{"type": "DiceLoss"}], "coef": [1, 0.5]}}
    before = copy.deepcopy(dic)
    model = builder.build_model(dic)
    assert model.cls.weight.shape[0] == 2
    loss = builder.build_loss(dic)
    assert len(loss["types"]) == 2 and loss["coef"] == [1.0, 0.5] and loss["types"][0] is not loss["types"][1]
    assert loss["types"][0].ignore_index == 255
    assert dic == before  # the config is not filled in place
    dic["model"]["num_classes"] = 3
    with pytest.raises(UserError) as e:
        builder.build_model(dic)
    assert message(e) == ("model.num_classes is 3 but the dataset says 2; make them equal (or drop it from model "
                          "to take the dataset's)")
    dic["model"]["num_classes"] = 1  # a binary sigmoid model on a 2-class dataset is fine
    assert builder.build_model(dic).cls.weight.shape[0] == 1
    dic["loss"]["types"][0]["ignore_index"] = 0
    with pytest.raises(UserError, match=r"^loss\.types\[0\]\.ignore_index is 0 but the dataset says 255;"):
        builder.build_loss(dic)


def test_model_in_channels_follow_the_dataset(monkeypatch):
    logged = []
    monkeypatch.setattr(builder.logger, "info", logged.append)
    dic = {"val_dataset": generic(num_classes=2, img_channels=1), "model": {"type": "UNet", "base_channels": 4}}
    model = builder.build_model(dic)
    assert model.encode.double_conv[0]._conv.weight.shape[1] == 1 and model.cls.weight.shape[0] == 2
    assert logged == ["model.num_classes = 2 (taken from the dataset)",
                      "model.in_channels = 1 (taken from the dataset)"]
    dic["model"]["in_channels"] = 3
    with pytest.raises(UserError, match=r"^model\.in_channels is 3 but the dataset says 1;"):
        builder.build_model(dic)


def test_model_errors_name_the_model_key():
    with pytest.raises(UserError) as e:
        builder.build_model({"model": {"num_classes": 2}})
    assert message(e) == "model: 'type' is missing (e.g. type: UNet)"
    with pytest.raises(UserError, match=r"^model: 'UNett' is not in the models registry\. Did you mean UNet"):
        builder.build_model({"train_dataset": synthetic(), "model": {"type": "UNett"}})
    with pytest.raises(UserError, match=r"^model: 'UNett' is not in the models registry"):
        builder.build_model({"model": {"type": "UNett"}})


def tiny_model(num_classes):
    return paddle.nn.Conv2D(3, num_classes, 1)


def open_model(**kwargs):
    return kwargs


def test_facts_go_only_to_components_that_take_them(monkeypatch):
    monkeypatch.setitem(manager.MODELS._components, "tiny_model", tiny_model)
    monkeypatch.setitem(manager.MODELS._components, "open_model", open_model)
    dic = {"train_dataset": synthetic(), "model": {"type": "tiny_model"}}
    assert builder.build_model(dic).weight.shape == [2, 3, 1, 1]  # no in_channels passed
    dic["model"] = {"type": "open_model"}
    assert builder.build_model(dic) == {"num_classes": 2, "in_channels": 3}
    assert builder.build_model({"model": {"type": "open_model", "x": 1}}) == {"x": 1}  # no dataset: nothing added


def test_mixed_loss_sub_losses_get_the_ignore_index():
    dic = {"train_dataset": synthetic(),
           "loss": {"types": [{"type": "MixedLoss", "losses": [{"type": "DiceLoss"}, {"type": "CrossEntropyLoss"}],
                               "coef": [0.5, 0.5]}], "coef": [1]}}
    before = copy.deepcopy(dic)
    mixed = builder.build_loss(dic)["types"][0]
    assert mixed.ignore_index == 255 and [loss.ignore_index for loss in mixed.losses] == [255, 255]
    assert dic == before
    dic["loss"]["types"][0]["losses"][1]["ignore_index"] = 0
    with pytest.raises(UserError) as e:
        builder.build_loss(dic)
    assert message(e).startswith("loss.types[0].losses[1].ignore_index is 0 but the dataset says 255; make them "
                                 "equal (or drop it from loss.types[0].losses[1] to take")


def test_loss_entries_without_type_are_named():
    dic = {"loss": {"types": [{"type": "DiceLoss"}, "DiceLoss"], "coef": [1, 1]}}
    with pytest.raises(UserError) as e:
        builder.build_loss(dic)
    assert message(e) == "loss.types[1]: expected a mapping with a 'type' key, got 'DiceLoss'"
    with pytest.raises(UserError) as e:  # also when the dataset's ignore_index is to be filled in
        builder.build_loss({"train_dataset": synthetic(), "loss": {"types": [{"weight": None}], "coef": [1]}})
    assert message(e) == "loss.types[0]: expected a mapping with a 'type' key, got {'weight': None}"
    dic = {"train_dataset": synthetic(),
           "loss": {"types": [{"type": "MixedLoss", "losses": [{"weight": None}], "coef": [1]}], "coef": [1]}}
    with pytest.raises(UserError) as e:
        builder.build_loss(dic)
    assert message(e).startswith("loss.types[0] (MixedLoss): every entry of losses must be a loss")


def test_loss_errors_name_the_entry():
    with pytest.raises(UserError) as e:
        builder.build_loss({"loss": {"types": [{"type": "DiceLos"}], "coef": [1]}})
    assert message(e).startswith("loss.types[0]: 'DiceLos' is not in the losses registry. Did you mean DiceLoss")
    with pytest.raises(UserError) as e:
        builder.build_loss({"loss": {"types": [{"type": "DiceLoss", "smoth": 1}], "coef": [1]}})
    assert message(e).startswith("loss.types[0] (DiceLoss): unknown argument 'smoth'. Did you mean 'smooth'?")


@pytest.mark.parametrize("loss", [{"types": [], "coef": []}, {"types": {"type": "DiceLoss"}, "coef": [1]},
                                  {"types": [{"type": "DiceLoss"}], "coef": 1}, {"coef": [1]}])
def test_loss_needs_types_and_coef_lists(loss):
    with pytest.raises(UserError) as e:
        builder.build_loss({"loss": loss})
    assert message(e) == ("loss must have a non-empty list 'types' and a list 'coef', e.g. "
                          "loss: {types: [{type: DiceLoss}], coef: [1]}")


def test_loss_types_coef_mismatch():
    dic = {"loss": {"types": [{"type": "DiceLoss"}, {"type": "DiceLoss"}], "coef": [1, 1, 1]}}
    with pytest.raises(UserError) as e:
        builder.build_loss(dic)
    assert message(e) == "loss.types has 2 entries but loss.coef has 3; give one coef per loss"


# ---- val transforms ----------------------------------------------------------------------------

def test_val_transforms_are_the_val_chain_with_the_dataset_channels():
    dic = {"val_dataset": generic(num_classes=2, img_channels=1, transforms=[
        {"type": "Normalize", "mean": 0.5, "std": 0.5}])}
    compose = builder.build_val_transforms(dic)
    out = compose({"img": np.full((4, 5), 255, np.uint8)})
    assert compose.img_channels == 1 and out["img"].shape == (1, 4, 5)
    np.testing.assert_allclose(out["img"], 1.0)
    plain = builder.build_val_transforms({"val_dataset": {"type": "Dataset"}})
    assert plain.transforms == [] and plain.img_channels == 3
    with pytest.raises(UserError, match=r"^val_dataset\.transforms\[0\]: 'UNet' is not in the transforms"):
        builder.build_val_transforms({"val_dataset": {"type": "Dataset", "transforms": [{"type": "UNet"}]}})


# ---- learning rate and optimizer ---------------------------------------------------------------

def lrs(sched, n):
    values = []
    for _ in range(n):
        values.append(sched())
        sched.step()
    return values


def test_lr_scheduler_defaults_and_warmup():
    dic = {"iters": 100, "lr_scheduler": {"type": "PolynomialDecay", "learning_rate": 0.1, "power": 1.0,
                                          "end_lr": 0.0}}
    before = copy.deepcopy(dic)
    assert lrs(builder.build_lr_scheduler(dic), 51)[50] == pytest.approx(0.05)
    assert dic == before
    dic["lr_scheduler"].update(warmup_iters=10, warmup_start_lr=0.0)
    sched = builder.build_lr_scheduler(dic)
    assert isinstance(sched, paddle.optimizer.lr.LinearWarmup)
    values = lrs(sched, 56)
    assert values[5] == pytest.approx(0.05)  # half way through the warmup
    assert values[10] == pytest.approx(0.1) and values[55] == pytest.approx(0.05)  # half of the 90 decay steps


def test_lr_decay_steps_are_at_least_one():
    dic = {"iters": 4, "lr_scheduler": {"type": "PolynomialDecay", "learning_rate": 0.1, "end_lr": 0.0,
                                        "warmup_iters": 4, "warmup_start_lr": 0.0}}
    assert lrs(builder.build_lr_scheduler(dic), 6)[4:] == pytest.approx([0.1, 0.0])


def test_cosine_t_max_defaults_to_the_iterations_after_warmup():
    dic = {"iters": 100, "lr_scheduler": {"type": "CosineAnnealingDecay", "learning_rate": 0.1}}
    assert lrs(builder.build_lr_scheduler(dic), 101)[50] == pytest.approx(0.05)
    dic["lr_scheduler"]["T_max"] = 10
    assert lrs(builder.build_lr_scheduler(dic), 6)[5] == pytest.approx(0.05)


def test_other_schedulers_get_no_defaults_and_typos_are_named():
    dic = {"iters": 100, "lr_scheduler": {"type": "StepDecay", "learning_rate": 0.1, "step_size": 2}}
    assert lrs(builder.build_lr_scheduler(dic), 3) == pytest.approx([0.1, 0.1, 0.01])
    dic["lr_scheduler"]["step_szie"] = dic["lr_scheduler"].pop("step_size")
    with pytest.raises(UserError) as e:
        builder.build_lr_scheduler(dic)
    assert message(e).startswith("lr_scheduler (StepDecay): unknown argument 'step_szie'. Did you mean 'step_size'?")


def test_lr_scheduler_type_must_be_a_scheduler_class():
    with pytest.raises(UserError) as e:
        builder.build_lr_scheduler({"iters": 1, "lr_scheduler": {"type": "Decay"}})
    assert message(e).startswith("lr_scheduler.type 'Decay' is not a paddle.optimizer.lr class. Did you mean "
                                 "StepDecay or NoamDecay? Available: CosineAnnealingDecay, ")
    for name in ("LRScheduler", "Tensor", "Any", None):
        with pytest.raises(UserError) as e:
            builder.build_lr_scheduler({"iters": 1, "lr_scheduler": {"type": name, "learning_rate": 0.1}})
        available = message(e).split("Available: ")[1].split(", ")
        assert "PolynomialDecay" in available and "ReduceOnPlateau" in available
        assert not {"LRScheduler", "Tensor", "Any", "TYPE_CHECKING", "Callable"} & set(available)
    for cfg, shown in (({"type": "Zzzzzz"}, "Zzzzzz"), ({"learning_rate": 0.1}, "None")):
        with pytest.raises(UserError) as e:
            builder.build_lr_scheduler({"iters": 1, "lr_scheduler": cfg})
        assert message(e).startswith("lr_scheduler.type '{}' is not a paddle.optimizer.lr class. Available: "
                                     "CosineAnnealingDecay, ".format(shown))


@pytest.mark.parametrize("warmup", [{"warmup_iters": 5}, {"warmup_start_lr": 0.0}])
def test_warmup_needs_both_keys(warmup):
    dic = {"iters": 10, "lr_scheduler": dict(warmup, type="PolynomialDecay", learning_rate=0.1)}
    with pytest.raises(UserError) as e:
        builder.build_lr_scheduler(dic)
    assert message(e) == "lr_scheduler: set warmup_iters and warmup_start_lr together (or neither)"


def one_weight():
    model = paddle.nn.Linear(1, 1, bias_attr=False)
    model.weight.set_value(paddle.ones([1, 1]))
    return model


def step_weights(opt, model, n):
    """n steps of the loss w * 1 (gradient 1); the weight after each."""
    values = []
    for _ in range(n):
        model(paddle.ones([1, 1])).sum().backward()
        opt.step()
        opt.clear_grad()
        values.append(float(model.weight.numpy()[0, 0]))
    return values


def test_optimizer_sgd_with_momentum_becomes_momentum(monkeypatch):
    logged = []
    monkeypatch.setattr(builder.logger, "info", logged.append)
    model = one_weight()
    cfg = {"type": "SGD", "momentum": 0.9}
    opt = builder.build_optimizer(cfg, model, 0.1)
    assert type(opt) is paddle.optimizer.Momentum and cfg == {"type": "SGD", "momentum": 0.9}
    assert logged == ["optimizer: SGD with momentum 0.9 -> paddle.optimizer.Momentum"]
    # velocity 1 then 0.9 * 1 + 1: the weight moves by 0.1 then 0.19
    assert step_weights(opt, model, 2) == pytest.approx([0.9, 0.71])


@pytest.mark.parametrize("cfg", [{"type": "sgd"}, {"type": "SGD", "momentum": 0}])
def test_optimizer_plain_sgd(cfg):
    model = one_weight()
    opt = builder.build_optimizer(cfg, model, 0.1)
    assert type(opt) is paddle.optimizer.SGD
    assert step_weights(opt, model, 2) == pytest.approx([0.9, 0.8])


def test_optimizer_weight_decay_is_an_l2_term():
    model = one_weight()
    opt = builder.build_optimizer({"type": "SGD", "weight_decay": 0.5}, model, 0.1)
    assert step_weights(opt, model, 1) == pytest.approx([1 - 0.1 * (1 + 0.5)])
    assert type(builder.build_optimizer({"type": "AdamW", "weight_decay": 0.01}, model, 0.1)) is paddle.optimizer.AdamW
    with pytest.raises(UserError) as e:
        builder.build_optimizer({"type": "SGD", "weight_decay": "4e-5"}, model, 0.1)
    assert message(e) == "optimizer.weight_decay must be a number, got '4e-5'"


def test_optimizer_type_and_argument_errors():
    model = one_weight()
    for cfg, shown in (({"type": "Adagrad"}, "Adagrad"), ({}, "None")):
        with pytest.raises(UserError) as e:
            builder.build_optimizer(cfg, model, 0.1)
        assert message(e) == "optimizer.type '{}' is not supported; use one of SGD, Momentum, Adam, AdamW".format(
            shown)
    with pytest.raises(UserError) as e:
        builder.build_optimizer({"type": "Momentum", "nesterov": True}, model, 0.1)
    assert message(e).startswith("optimizer (Momentum): unknown argument 'nesterov'. Did you mean 'use_nesterov'?")


def test_config_builds_everything_from_yaml(tmp_path):
    path = write(tmp_path / "c.yml", {
        "batch_size": 2, "iters": 4, "train_dataset": synthetic(transforms=[{"type": "Normalize"}]),
        "val_dataset": synthetic("val", transforms=[{"type": "Normalize"}]),
        "model": {"type": "UNet", "base_channels": 4}, "loss": {"types": [{"type": "DiceLoss"}], "coef": [1]},
        "optimizer": {"type": "SGD", "momentum": 0.9}, "lr_scheduler": {"type": "PolynomialDecay",
                                                                         "learning_rate": 0.01}})
    cfg = Config(path)
    cfg.check_train()
    assert isinstance(cfg.optimizer, paddle.optimizer.Momentum) and cfg.optimizer.get_lr() == pytest.approx(0.01)
    assert cfg.model is cfg.model and cfg.optimizer is cfg.optimizer  # built once
    assert cfg.model.cls.weight.shape[0] == 2 and cfg.loss["types"][0].ignore_index == 255
    assert len(cfg.train_dataset) == 2 and cfg.val_dataset.mode == "val"
    assert [type(t).__name__ for t in cfg.val_transforms.transforms] == ["Normalize"]
