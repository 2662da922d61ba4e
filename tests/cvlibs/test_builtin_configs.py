"""`--config NAME`: the configs shipped in the package are found by name from any directory, a file wins,
an unknown name is one error naming the flag and the close names."""
import os

import pytest

from paddleseg_lite.cvlibs import Config
from paddleseg_lite.cvlibs.builtin_configs import builtin_configs, resolve_config
from paddleseg_lite.utils.errors import UserError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHIPPED = os.path.join(ROOT, "paddleseg_lite", "configs")
QUICKSTART = os.path.join(SHIPPED, "quickstart", "unet_synthetic_vessels.yml")


def test_the_names_are_the_shipped_run_configs():
    assert list(builtin_configs()) == ["drive_cpu/unet_drive_cpu", "drive_cpu/unet_drive_cpu_20min",
                                       "quickstart/unet_synthetic_vessels", "unet_drive_128x128"]  # no _base_/
    assert builtin_configs()["unet_drive_128x128"] == os.path.join(SHIPPED, "unet_drive_128x128.yml")


def test_the_clone_keeps_its_configs_folder():
    assert os.path.realpath(os.path.join(ROOT, "configs")) == os.path.realpath(SHIPPED)


@pytest.mark.parametrize("value", ["quickstart/unet_synthetic_vessels", "quickstart/unet_synthetic_vessels.yml",
                                   "configs/quickstart/unet_synthetic_vessels.yml"])
def test_a_name_resolves_from_any_directory(tmp_path, monkeypatch, value):
    monkeypatch.chdir(tmp_path)
    assert resolve_config(value) == QUICKSTART


def test_an_existing_file_wins_over_a_built_in(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quickstart").mkdir()
    (tmp_path / "quickstart" / "unet_synthetic_vessels.yml").write_text("iters: 7\n")
    assert resolve_config("quickstart/unet_synthetic_vessels.yml") == "quickstart/unet_synthetic_vessels.yml"
    assert Config("quickstart/unet_synthetic_vessels.yml").dic == {"iters": 7}
    assert Config("quickstart/unet_synthetic_vessels").path == QUICKSTART


def test_a_built_in_loads_its_base_relative_to_itself(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = Config("unet_drive_128x128")
    assert cfg.dic["train_dataset"]["type"] == "DRIVE"  # from _base_/drive.yml
    assert cfg.origins["train_dataset.type"] == os.path.join(SHIPPED, "_base_", "drive.yml")


@pytest.mark.parametrize("value, close", [
    ("quickstart/unet_synthetic_vesels", "close built-in names: quickstart/unet_synthetic_vessels ("),
    ("unet_drive_cpu", "close built-in names: drive_cpu/unet_drive_cpu, "),  # the closest first
    ("missing.yml", "built-in names: drive_cpu/unet_drive_cpu, drive_cpu/unet_drive_cpu_20min, "
                    "quickstart/unet_synthetic_vessels, unet_drive_128x128 ("),
])
def test_an_unknown_name_names_the_flag_and_close_names(tmp_path, monkeypatch, value, close):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as error:
        Config(value)
    message = str(error.value)
    assert message.startswith("--config {}: no such file and no built-in config of that name; ".format(value))
    assert close in message and "\n" not in message


def test_a_users_config_inherits_a_built_in_by_name_and_a_missing_base_names_the_chain(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yml").write_text("_base_: drive_cpu/unet_drive_cpu\niters: 100\n")
    cfg = Config(str(tmp_path / "mine.yml"))
    assert cfg.dic["iters"] == 100 and cfg.dic["model"]["base_channels"] == 8
    assert cfg.origins["model.base_channels"] == os.path.join(SHIPPED, "drive_cpu", "unet_drive_cpu.yml")
    (tmp_path / "bad.yml").write_text("_base_: drive_cpu/unet_drive_cpv\n")
    with pytest.raises(UserError, match=r"Config file not found: .*drive_cpu/unet_drive_cpv \(included from "):
        Config(str(tmp_path / "bad.yml"))


@pytest.mark.parametrize("name", sorted(builtin_configs()))
def test_every_built_in_evaluates_on_the_input_it_trains_on(name):
    # the input transforms (channel choice, contrast equalisation) in the same order in both chains: a variant
    # that overrides one chain alone would train on one input and be scored on another
    def input_steps(dataset):
        return [t for t in Config(name).dic[dataset]["transforms"] if t["type"] in ("GreenChannel", "CLAHE")]
    assert input_steps("train_dataset") == input_steps("val_dataset")
