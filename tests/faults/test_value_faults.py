"""Fault injection, issue 12 categories 2 and 6: bad numbers and silently accepted config mistakes.

Every numeric value (a config key, its `--opts` override or a tool flag) is refused before any work with
one line naming the key, the bad value and the valid range; slide windows that cannot tile are refused
when the inference options are built; a key given twice in a YAML mapping names the file, the line and
the key; a misspelt nested key gets a did-you-mean. The cases run in-process through the layer that
checks them (Config, builder, InferenceOptions); a few tool runs prove the path to the user (exit code
2, one `error:` line, no traceback, nothing written).
"""
import os
import re

import pytest

from fault_check import assert_one_error, leftover_temps, run_tool_args
from tool_runner import CONFIG, TINY, load_tool
from paddleseg_lite import cli
from paddleseg_lite.core.inference_options import InferenceOptions
from paddleseg_lite.core.loader import ShardBatchSampler, build_loader
from paddleseg_lite.cvlibs import Config
from paddleseg_lite.cvlibs.config_file import load_yaml
from paddleseg_lite.deploy import check_input_shape
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.visual import palette

OPTS = [o for o in TINY if not o.startswith("batch_size=")]  # so that the batch_size flag is not overridden


def check_train(cfg):
    cfg.check_train()


def build(name):
    return lambda cfg: getattr(cfg, name)


def options(cfg):
    return InferenceOptions.from_test_config(cfg.test_config)


def scheduler(**cfg):
    return "lr_scheduler={}".format(dict(cfg, learning_rate=0.1))


def transforms(**cfg):
    return "train_dataset.transforms=[{}]".format(cfg)


# (flags of tools/train.py as Config keywords, --opts items, what builds the value, the expected message)
CONFIG_CASES = {
    # run settings: a 0 flag used to count as "not given"; a negative batch size used to hang
    "flag batch_size -2": (dict(batch_size=-2), [], check_train, "batch_size must be >= 1, got -2"),
    "flag batch_size 0": (dict(batch_size=0), [], check_train, "batch_size must be >= 1, got 0"),
    "flag iters 0": (dict(iters=0), [], check_train, "iters must be >= 1, got 0"),
    "flag num_workers -1": (dict(num_workers=-1), [], check_train, "num_workers must be >= 0, got -1"),
    "key batch_size 0": ({}, ["batch_size=0"], check_train, "batch_size must be >= 1, got 0"),
    "key iters text": ({}, ["iters=abc"], check_train, "iters must be an integer, got 'abc'"),
    # learning-rate schedule (Paddle asserts without the value, or accepts nonsense)
    "flag learning_rate -1": (dict(learning_rate=-1.0), [], check_train,
                              "lr_scheduler.learning_rate must be >= 0, got -1.0"),
    "learning_rate text": ({}, ["lr_scheduler.learning_rate=abc"], check_train,
                           "lr_scheduler.learning_rate must be a number, got 'abc'"),
    "end_lr -1": ({}, ["lr_scheduler.end_lr=-1"], check_train, "lr_scheduler.end_lr must be >= 0, got -1"),
    "power 0": ({}, ["lr_scheduler.power=0"], check_train, "lr_scheduler.power must be > 0, got 0"),
    "decay_steps 0": ({}, ["lr_scheduler.decay_steps=0"], check_train, "lr_scheduler.decay_steps must be >= 1, got 0"),
    "warmup_iters -3": ({}, ["lr_scheduler.warmup_iters=-3", "lr_scheduler.warmup_start_lr=0.001"], check_train,
                        "lr_scheduler.warmup_iters must be >= 0, got -3"),
    "warmup_start_lr -1": ({}, ["lr_scheduler.warmup_iters=3", "lr_scheduler.warmup_start_lr=-1"], check_train,
                           "lr_scheduler.warmup_start_lr must be >= 0, got -1"),
    "step_size 0": ({}, [scheduler(type="StepDecay", step_size=0)], check_train,
                    "lr_scheduler.step_size must be >= 1, got 0"),
    "gamma 0": ({}, [scheduler(type="ExponentialDecay", gamma=0)], check_train,
                "lr_scheduler.gamma must be > 0, got 0"),
    "T_max 0": ({}, [scheduler(type="CosineAnnealingDecay", T_max=0)], check_train,
                "lr_scheduler.T_max must be >= 1, got 0"),
    "eta_min -1": ({}, [scheduler(type="CosineAnnealingDecay", eta_min=-1)], check_train,
                   "lr_scheduler.eta_min must be >= 0, got -1"),
    "warmup without learning_rate": ({}, ["lr_scheduler={'type': 'PiecewiseDecay', 'boundaries': [5], 'values': "
                                          "[0.1, 0.01], 'warmup_iters': 2, 'warmup_start_lr': 0.001}"], check_train,
                                     "lr_scheduler: warmup_iters needs learning_rate"),
    "paddle's own check": ({}, ["lr_scheduler={'type': 'PiecewiseDecay', 'boundaries': [5, 9], 'values': [0.1]}"],
                           check_train, "lr_scheduler (PiecewiseDecay): The values have one more element"),
    # optimizer
    "momentum 1.5": ({}, ["optimizer={'type': 'SGD', 'momentum': 1.5}"], build("optimizer"),
                     "optimizer.momentum must be in [0, 1), got 1.5"),
    "momentum -1": ({}, ["optimizer={'type': 'SGD', 'momentum': -1}"], build("optimizer"),
                    "optimizer.momentum must be in [0, 1), got -1"),
    "weight_decay -1": ({}, ["optimizer.weight_decay=-1"], build("optimizer"),
                        "optimizer.weight_decay must be >= 0, got -1"),
    "beta1 1": ({}, ["optimizer.beta1=1"], build("optimizer"), "optimizer.beta1 must be in [0, 1), got 1"),
    "beta2 -0.1": ({}, ["optimizer.beta2=-0.1"], build("optimizer"), "optimizer.beta2 must be in [0, 1), got -0.1"),
    "epsilon 0": ({}, ["optimizer.epsilon=0"], build("optimizer"), "optimizer.epsilon must be > 0, got 0"),
    # datasets, transforms, model, loss: the constructor's check, placed at its config path
    "num_samples 0": ({}, ["train_dataset.num_samples=0"], build("train_dataset"),
                      "train_dataset.num_samples (SyntheticVessels) must be >= 1, got 0"),
    "image_size 8": ({}, ["val_dataset.image_size=8"], build("val_dataset"),
                     "val_dataset.image_size (SyntheticVessels) must be a list [width, height] of integers >= 16, "
                     "got (8, 8)"),
    "crop_size 0": ({}, [transforms(type="RandomPaddingCrop", crop_size=[0, 8])], build("train_dataset"),
                    "train_dataset.transforms[0].crop_size (RandomPaddingCrop) must be a list [width, height] of "
                    "integers >= 1, got [0, 8]"),
    "target_size -1": ({}, [transforms(type="Resize", target_size=[-1, 8])], build("train_dataset"),
                       "train_dataset.transforms[0].target_size (Resize) must be a list"),
    "prob 1.5": ({}, [transforms(type="RandomVerticalFlip", prob=1.5)], build("train_dataset"),
                 "train_dataset.transforms[0].prob (RandomVerticalFlip) must be in [0.0, 1.0], got 1.5"),
    "scale min > max": ({}, [transforms(type="ResizeStepScaling", min_scale_factor=2, max_scale_factor=1)],
                        build("train_dataset"), "train_dataset.transforms[0] (ResizeStepScaling): min_scale_factor "
                                                "(2) must not exceed max_scale_factor (1)."),
    "scale factor 0": ({}, [transforms(type="ResizeStepScaling", min_scale_factor=0)], build("train_dataset"),
                       "train_dataset.transforms[0].min_scale_factor (ResizeStepScaling) must be > 0, got 0"),
    "distort range -1": ({}, [transforms(type="RandomDistort", hue_range=-1)], build("train_dataset"),
                         "train_dataset.transforms[0].hue_range (RandomDistort) must be >= 0, got -1"),
    "base_channels 0": ({}, ["model.base_channels=0"], build("model"),
                        "model.base_channels (UNet) must be >= 1, got 0"),
    "loss coef -1": ({}, ["loss.coef=[-1]"], build("loss"), "loss.coef[0] must be >= 0, got -1"),
    "MixedLoss coef -1": ({}, ["loss.types=[{'type': 'MixedLoss', 'losses': [{'type': 'DiceLoss'}], 'coef': [-1]}]"],
                          build("loss"), "loss.types[0].coef[0] (MixedLoss) must be >= 0, got -1"),
    # test_config: slide windows that cannot tile, scales
    "stride > crop_size": ({}, ["test_config={'is_slide': True, 'crop_size': [16, 16], 'stride': [8, 32]}"], options,
                           "test_config.stride (--stride) [8, 32] is larger than test_config.crop_size (--crop_size) "
                           "[16, 16]: the sliding windows would leave gaps"),
    "stride 0": ({}, ["test_config={'is_slide': True, 'crop_size': [16, 16], 'stride': [0, 8]}"], options,
                 "test_config.stride (--stride) must be a list [width, height] of integers >= 1, got [0, 8]"),
    "crop_size -16": ({}, ["test_config={'crop_size': [-16, 16], 'stride': [8, 8]}"], options,
                      "test_config.crop_size (--crop_size) must be a list [width, height] of integers >= 1"),
    "is_slide without sizes": ({}, ["test_config={'is_slide': True, 'crop_size': [16, 16]}"], options,
                               "test_config.is_slide (--is_slide) needs test_config.crop_size and test_config.stride"),
    "scales 0": ({}, ["test_config={'aug_eval': True, 'scales': [1.0, 0]}"], options,
                 "test_config.scales (--scales) must be > 0, got 0"),
    "scales empty": ({}, ["test_config={'scales': []}"], options,
                     "test_config.scales (--scales) must be a positive number or a non-empty list of them, got []"),
    # category 6: misspelt nested keys from --opts
    "model typo": ({}, ["model.base_chanels=8"], build("model"),
                   "model (UNet): unknown argument 'base_chanels'. Did you mean 'base_channels'?"),
    "transform typo": ({}, [transforms(type="RandomPaddingCrop", crop_szie=[8, 8])], build("train_dataset"),
                       "unknown argument 'crop_szie'. Did you mean 'crop_size'?"),
    "lr_scheduler typo": ({}, ["lr_scheduler.end_rl=0.1"], check_train,
                          "lr_scheduler (PolynomialDecay): unknown argument 'end_rl'. Did you mean 'end_lr'?"),
    "optimizer typo": ({}, ["optimizer.wieght_decay=0.1"], build("optimizer"),
                       "optimizer (Adam): unknown argument 'wieght_decay'. Did you mean 'weight_decay'?"),
    "loss typo": ({}, ["loss.coeff=[1]"], build("loss"),
                  "loss: unknown key 'coeff'. Did you mean 'coef'? Valid keys: types, coef"),
    "test_config typo": ({}, ["test_config.is_slid=True"], options,
                         "test_config: unknown key 'is_slid'. Did you mean 'is_slide'?"),
    "top-level typo": ({}, ["batch_sise=2"], build("dic"), "unknown top-level key 'batch_sise'. Did you mean"),
}


@pytest.mark.parametrize("flags, opts, make, message", CONFIG_CASES.values(), ids=CONFIG_CASES.keys())
def test_bad_config_value_is_one_line_naming_key_value_and_range(flags, opts, make, message):
    with pytest.raises(UserError) as info:
        make(Config(CONFIG, opts=OPTS + opts, **flags))
    text = str(info.value)
    assert message in text and "\n" not in text, text


def test_values_at_their_bounds_are_accepted():
    cfg = Config(CONFIG, batch_size=1, num_workers=0, opts=OPTS + [
        "optimizer={'type': 'SGD', 'momentum': 0, 'weight_decay': 0}", "lr_scheduler.end_lr=0",
        "loss.coef=[0]", "test_config={'is_slide': True, 'crop_size': [16, 16], 'stride': [16, 16]}",
        "train_dataset.transforms=[{'type': 'RandomVerticalFlip', 'prob': 1}]"])
    cfg.check_train()
    assert cfg.optimizer and cfg.loss and cfg.train_dataset and options(cfg).stride == [16, 16]


VAL_FLAG_CASES = {
    "--stride > --crop_size": (["--is_slide", "--crop_size", "16", "16", "--stride", "32", "16"],
                               "test_config.stride (--stride) [32, 16] is larger than"),
    "--crop_size 0": (["--is_slide", "--crop_size", "0", "16", "--stride", "8", "8"],
                      "test_config.crop_size (--crop_size) must be a list [width, height] of integers >= 1"),
    "--is_slide alone": (["--is_slide"], "test_config.is_slide (--is_slide) needs test_config.crop_size and "
                                       "test_config.stride (--crop_size W H --stride W H)"),
    "--scales -1": (["--aug_eval", "--scales", "1", "-1"], "test_config.scales (--scales) must be > 0, got -1.0"),
}


@pytest.mark.parametrize("argv, message", VAL_FLAG_CASES.values(), ids=VAL_FLAG_CASES.keys())
def test_bad_inference_flags_are_refused_when_the_options_are_built(argv, message):
    args = load_tool("val").parse_args(["--config", CONFIG, "--model_path", "unused"] + argv)
    with pytest.raises(UserError, match="^" + re.escape(message)):
        cli.inference_options(args, {}, "aug_eval")


def test_slide_flags_keep_the_config_sizes_they_do_not_give():
    args = load_tool("val").parse_args(["--config", CONFIG, "--model_path", "unused", "--is_slide"])
    opts, _ = cli.inference_options(args, {"crop_size": [16, 16], "stride": [8, 8]}, "aug_eval")
    assert (opts.is_slide, opts.crop_size, opts.stride) == (True, [16, 16], [8, 8])


@pytest.mark.parametrize("check, message", [
    (lambda: palette([300, 1, 2]), "custom_color (--custom_color) values must be integers in 0..255, got 300"),
    (lambda: palette([1, 2]), "custom_color (--custom_color) must be R G B triplets (a multiple of 3 values"),
    (lambda: check_input_shape([0, 3, 64, 64], error=UserError),
     "input_shape (--input_shape) must be 4 positive ints or None"),
    (lambda: build_loader([], ShardBatchSampler(0), -1), "num_workers must be >= 0, got -1"),
], ids=["custom_color 300", "custom_color pair", "input_shape 0", "val num_workers -1"])
def test_other_tool_flags(check, message):
    with pytest.raises(UserError) as info:
        check()
    assert str(info.value).startswith(message)


def deploy_parse_args(*flags):
    return load_tool("infer").parse_args(["--config", "deploy.yaml", "--image_path", "img.png", *flags])


@pytest.mark.parametrize("flag, value", [("--batch_size", "-2"), ("--batch_size", "0"), ("--cpu_threads", "0"),
                                         ("--min_subgraph_size", "-1")])
def test_deploy_script_numeric_flags(flag, value):
    with pytest.raises(UserError, match="^{} must be >= 1, got {}$".format(flag, value)):
        deploy_parse_args(flag, value)
    assert deploy_parse_args().batch_size == 1


def test_custom_color_replaces_the_first_colours():
    assert palette([1, 2, 3, 4, 5, 6])[:2].tolist() == [[1, 2, 3], [4, 5, 6]]


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("text, line, key", [
    ("iters: 10\nbatch_size: 2\niters: 20\n", 3, "iters"),
    ("model:\n  type: UNet\n  base_channels: 4\n  base_channels: 8\n", 4, "base_channels"),
    ("train_dataset:\n  transforms:\n    - type: RandomVerticalFlip\n      prob: 0.5\n      prob: 1\n", 5, "prob"),
    ("test_config: {is_slide: true, is_slide: false}\n", 1, "is_slide"),
], ids=["top level", "nested", "inside a list", "flow mapping"])
def test_duplicate_yaml_key_names_file_line_and_key(tmp_path, text, line, key):
    path = write(tmp_path / "dup.yml", text)
    with pytest.raises(UserError) as info:
        Config(path)
    assert str(info.value).startswith("{}: line {}: duplicate key '{}' (first set at line".format(path, line, key))


def test_duplicate_key_in_a_base_file_names_the_base(tmp_path):
    base = write(tmp_path / "base.yml", "iters: 10\nlr_scheduler:\n  type: PolynomialDecay\n  power: 0.9\n"
                                        "  power: 0.8\n")
    child = write(tmp_path / "child.yml", "_base_: base.yml\nbatch_size: 2\n")
    with pytest.raises(UserError, match="^" + re.escape("{}: line 5: duplicate key 'power'".format(base))):
        Config(child)


def test_same_key_in_other_mappings_and_merge_keys_are_fine(tmp_path):
    path = write(tmp_path / "ok.yml", "a: &base {type: UNet, base_channels: 4}\nmodel:\n  <<: *base\n"
                                      "  base_channels: 8\ntest_config: {type: 1}\n")
    assert load_yaml(path)["model"] == {"type": "UNet", "base_channels": 8}


# ------------------------------------------------------------------ the tool path, as a user meets it

def train_args(save_dir, *flags, config=CONFIG, opts=OPTS):
    return ["--config", config, "--device", "cpu", "--save_dir", save_dir, *flags, "--opts", *opts]


def test_train_with_negative_batch_size_stops_at_once(tmp_path):
    """The issue's hang: --batch_size -2 (no --opts batch_size after it) busy-looped with no output."""
    result = run_tool_args("train", *train_args(tmp_path / "out", "--batch_size", "-2"), timeout=120)
    assert_one_error(result, "batch_size must be >= 1, got -2")
    assert not os.path.exists(tmp_path / "out") and not leftover_temps(tmp_path)


def test_train_with_negative_learning_rate_writes_nothing(tmp_path):
    """Was a ValueError traceback from Paddle, after config.yml and train.log had been written."""
    result = run_tool_args("train", *train_args(tmp_path / "out", "--learning_rate", "-1"), timeout=120)
    assert_one_error(result, "lr_scheduler.learning_rate must be >= 0, got -1.0")
    assert not os.path.exists(tmp_path / "out")


def test_val_refuses_untileable_slide_before_loading_the_model(tmp_path):
    """Was a RuntimeError after the whole evaluation; the weights file does not even exist here."""
    result = run_tool_args("val", "--config", CONFIG, "--device", "cpu", "--model_path", tmp_path / "none.pdparams",
                           "--is_slide", "--crop_size", "16", "16", "--stride", "32", "32", "--opts", *OPTS)
    assert_one_error(result, "--stride", "[32, 32]", "--crop_size", "[16, 16]")


def test_train_refuses_a_duplicate_key_in_a_base_file(tmp_path):
    base = write(tmp_path / "base.yml", open(CONFIG, encoding="utf-8").read() + "iters: 5\n")
    child = write(tmp_path / "child.yml", "_base_: base.yml\n")
    result = run_tool_args("train", *train_args(tmp_path / "out", config=child))
    assert_one_error(result, base, "duplicate key 'iters'", "first set at line")
    assert not os.path.exists(tmp_path / "out")
