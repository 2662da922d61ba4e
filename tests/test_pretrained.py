"""Shipped models (paddleseg_lite/pretrained): drive_unet_cpu is the CPU recipe's run with portable paths, its
weights fit that config, its threshold is stored for exactly these weights; an unknown name is one line;
dev/ship_model.py puts a run's files there reproducibly."""
import importlib.util
import os

import paddle
import pytest
import yaml

from tool_runner import ROOT, save_tiny_weights
from paddleseg_lite import pretrained
from paddleseg_lite.core.threshold import stored_threshold
from paddleseg_lite.cvlibs import Config
from paddleseg_lite.models import load_entire_model
from paddleseg_lite.utils.errors import UserError

RECIPE = os.path.join(ROOT, "configs", "drive_cpu", "unet_drive_cpu.yml")


def load_ship():
    spec = importlib.util.spec_from_file_location("ship_model", os.path.join(ROOT, "dev", "ship_model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_drive_unet_cpu_is_the_cpu_recipe_with_portable_paths_and_its_threshold():
    assert "drive_unet_cpu" in pretrained.names()
    shipped = pretrained.shipped_model("drive_unet_cpu")
    recorded, recipe = yaml.safe_load(open(shipped.config)), yaml.safe_load(open(RECIPE))
    for key in ("model", "test_config", "loss", "optimizer", "lr_scheduler", "iters", "batch_size"):
        assert recorded[key] == recipe[key], key  # the recipe's run, as recorded
    assert recorded["val_dataset"]["transforms"] == recipe["val_dataset"]["transforms"]
    assert [recorded[k]["dataset_root"] for k in ("train_dataset", "val_dataset")] == ["data/DRIVE"] * 2
    assert os.path.getsize(shipped.model_path) < 1 << 20  # < 1 MB
    paddle.seed(0)
    load_entire_model(Config(shipped.config).model, shipped.model_path)  # every parameter, every shape
    threshold, states = stored_threshold(shipped.model_path)  # None if the digest did not match the weights
    assert 0 < threshold < 1 and states == os.path.join(os.path.dirname(shipped.model_path), "model.pdstates")


def test_unknown_name_is_one_line_with_did_you_mean():
    with pytest.raises(UserError) as e:
        pretrained.shipped_model("drive_unet_cpx")
    assert str(e.value) == ("--model drive_unet_cpx: no shipped model of that name; shipped: {}. Did you mean "
                            "'drive_unet_cpu'?".format(", ".join(pretrained.names())))


def test_ship_model_copies_a_run_cleans_its_paths_and_stores_the_threshold(tmp_path, log_lines):
    run = tmp_path / "run"
    (run / "iter_4").mkdir(parents=True)
    config = {"batch_size": 2, "iters": 4, "model": {"type": "UNet", "num_classes": 2, "base_channels": 4,
                                                     "pretrained": "/somewhere/backbone.pdparams"},
              "test_config": {"aug_eval": True}}
    for key in ("train_dataset", "val_dataset"):
        config[key] = {"type": "DRIVE", "dataset_root": "/home/me/DRIVE", "mode": key[:-8],
                       "transforms": [{"type": "Normalize"}]}
    (run / "config.yml").write_text(yaml.safe_dump(config))
    save_tiny_weights(run / "iter_4" / "model.pdparams")
    (run / "iter_4" / "model.pdstates").write_bytes(b"training state, not shipped")
    ship = load_ship()
    folder = ship.ship(str(run), str(run / "iter_4" / "model.pdparams"), "tiny", "0.3", into=str(tmp_path / "p"),
                       opts=["test_config.scales=[0.75,1.0]"])
    assert sorted(os.listdir(folder)) == sorted(pretrained.FILES)
    shipped = yaml.safe_load(open(os.path.join(folder, "config.yml")))
    assert shipped["train_dataset"]["dataset_root"] == shipped["val_dataset"]["dataset_root"] == "data/DRIVE"
    assert shipped["model"] == dict(config["model"], pretrained=None)
    assert shipped["test_config"] == {"aug_eval": True, "scales": [0.75, 1.0]}  # --opts: set after the run
    assert open(os.path.join(folder, "model.pdparams"), "rb").read() == (run / "iter_4" / "model.pdparams").read_bytes()
    assert stored_threshold(os.path.join(folder, "model.pdparams"))[0] == 0.3
    assert set(paddle.load(os.path.join(folder, "model.pdstates"))) == {"threshold", "threshold_f1",
                                                                         "threshold_weights"}
    with pytest.raises(UserError, match=r"--threshold must be a number in \[0, 1\].*got '1.5'"):
        ship.ship(str(run), str(run / "iter_4" / "model.pdparams"), "tiny", "1.5", into=str(tmp_path / "p"))
