"""Run knobs as config keys: defaults, overrides, validation, the saved config, unknown keys."""
import pytest
import yaml

from paddleseg_lite.cvlibs import Config
from paddleseg_lite.cvlibs import run_settings
from paddleseg_lite.cvlibs.run_settings import RUN_KEYS, TrainSettings
from paddleseg_lite.utils.errors import UserError


def write(tmp_path, dic):
    path = tmp_path / "run.yml"
    path.write_text(yaml.safe_dump(dic))
    return str(path)


def test_run_keys_are_the_training_flags():
    assert RUN_KEYS == ("save_interval", "log_iters", "seed", "save_best_metric", "keep_checkpoint_max",
                        "early_stop_intervals", "precision", "amp_level", "to_static_training", "num_workers",
                        "do_eval", "use_vdl", "use_ema", "repeats")


def test_defaults_are_paddleseg_flag_defaults():
    s = TrainSettings(iters=7, batch_size=3)
    assert (s.save_interval, s.log_iters, s.seed, s.save_best_metric, s.keep_checkpoint_max) == (1000, 10, None, "mIoU", 5)
    assert (s.early_stop_intervals, s.precision, s.amp_level, s.to_static_training) == (None, "auto", "O1", "auto")
    assert (s.num_workers, s.do_eval, s.use_vdl, s.use_ema, s.repeats) == (0, False, False, False, 1)


def test_config_keys_then_flags_then_opts(tmp_path):
    path = write(tmp_path, {"iters": 10, "batch_size": 2, "save_interval": 5, "seed": 1, "log_iters": 3})
    cfg = Config(path, save_interval=4, seed=2, opts=["seed=9"])
    s = cfg.train_settings
    assert (s.iters, s.batch_size, s.save_interval, s.seed, s.log_iters) == (10, 2, 4, 9, 3)
    assert (cfg.origins["save_interval"], cfg.origins["seed"], cfg.origins["log_iters"]) == ("--save_interval", "--opts", path)


def test_saved_config_holds_every_knob_and_the_drawn_seed(tmp_path):
    cfg = Config(write(tmp_path, {"iters": 10, "batch_size": 2}))
    seed = cfg.train_settings.seed
    assert isinstance(seed, int) and 0 <= seed < 2 ** 31
    cfg.save(str(tmp_path / "saved.yml"))
    saved = yaml.safe_load((tmp_path / "saved.yml").read_text())
    expected = TrainSettings(iters=10, batch_size=2, seed=seed).as_dict()
    assert {k: saved[k] for k in RUN_KEYS} == {k: expected[k] for k in RUN_KEYS}
    assert Config(str(tmp_path / "saved.yml")).train_settings == cfg.train_settings


@pytest.mark.parametrize("key, value, message", [
    ("batch_size", 0, "batch_size must be >= 1, got 0"),
    ("iters", -5, "iters must be >= 1, got -5"),
    ("save_interval", 0, "save_interval must be >= 1, got 0"),
    ("log_iters", 0, "log_iters must be >= 1, got 0"),
    ("num_workers", -1, "num_workers must be >= 0, got -1"),
    ("seed", 1.5, "seed must be an integer, got 1.5"),
    ("precision", "fp8", "precision must be one of auto, fp32, bf16, fp16, got 'fp8'"),
    ("to_static_training", "yes", "to_static_training must be one of True, False, auto, got 'yes'"),
    ("do_eval", "yes", "do_eval must be True or False, got 'yes'")])
def test_invalid_values_name_the_key(tmp_path, key, value, message):
    cfg = Config(write(tmp_path, {"iters": 10, "batch_size": 2, key: value}))
    with pytest.raises(UserError) as info:
        cfg.train_settings
    assert str(info.value) == message


@pytest.mark.parametrize("dic, opts", [({"itres": 5}, None), ({}, ["itres=5"])])
def test_unknown_top_level_key_gets_did_you_mean(tmp_path, dic, opts):
    path = write(tmp_path, dict({"iters": 10, "batch_size": 2}, **dic))
    with pytest.raises(UserError, match=r"run.yml: unknown top-level key 'itres'\. Did you mean 'iters'\? Valid keys: "
                                        r"batch_size, iters, train_dataset"):
        Config(path, opts=opts)


def test_config_takes_only_run_keys_and_records_static_training(tmp_path):
    path = write(tmp_path, {"iters": 10, "batch_size": 2})
    with pytest.raises(TypeError) as info:
        Config(path, save_intervall=3, zeed=1)
    assert str(info.value) == "Config: unknown run key(s) save_intervall, zeed"
    cfg = Config(path, to_static_training=True)
    assert cfg.dic["to_static_training"] is True and cfg.origins["to_static_training"] == "--to_static_training"
    assert cfg.train_settings.to_static_training is True


def test_a_drawn_seed_spans_31_bits(monkeypatch):
    drawn = []
    monkeypatch.setattr(run_settings.random.SystemRandom, "randrange", lambda self, n: drawn.append(n) or 7)
    assert TrainSettings(iters=1, batch_size=1).with_seed().seed == 7 and drawn == [2 ** 31]
    assert TrainSettings(iters=1, batch_size=1, seed=4).with_seed().seed == 4 and drawn == [2 ** 31]


@pytest.mark.parametrize("key, expected", [("to_static_training", "one of True, False, auto, got '1'"),
                                           ("use_vdl", "True or False, got 1"),
                                           ("use_ema", "True or False, got 1")])
def test_switches_must_be_booleans(key, expected):
    with pytest.raises(UserError) as info:
        TrainSettings(iters=1, batch_size=1, **{key: 1})
    assert str(info.value) == "{} must be {}".format(key, expected)


def test_save_best_metric_must_be_a_name():
    with pytest.raises(UserError) as info:
        TrainSettings(iters=1, batch_size=1, save_best_metric=3)
    assert str(info.value) == "save_best_metric must be a metric name such as mIoU or dice_fg, got 3"


def test_an_unknown_key_without_a_close_match_lists_every_valid_key(tmp_path):
    with pytest.raises(UserError) as info:
        Config(write(tmp_path, {"iters": 1, "batch_size": 1, "zzz": 0}))
    assert str(info.value) == (
        str(tmp_path / "run.yml") + ": unknown top-level key 'zzz'. Valid keys: batch_size, iters, train_dataset, "
        "val_dataset, model, loss, optimizer, lr_scheduler, test_config, export, to_static_training, print_mem_info, "
        "log_ranks, uniform_output_enabled, pdx_model_name, save_interval, log_iters, seed, save_best_metric, "
        "keep_checkpoint_max, early_stop_intervals, precision, amp_level, num_workers, do_eval, use_vdl, use_ema, "
        "repeats")
    with pytest.raises(UserError, match=r"unknown top-level key 'sed'\. Did you mean 'seed'\? Valid keys: "):
        Config(write(tmp_path, {"iters": 1, "batch_size": 1, "sed": 0}))
