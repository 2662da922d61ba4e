import os

import pytest
import yaml

from paddleseg_lite.cvlibs.config import Config, apply_opts, load_yaml, parse_value
from paddleseg_lite.utils.errors import UserError


def write(path, dic):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        yaml.safe_dump(dic, f)
    return str(path)


def test_base_merge_dicts_deep_lists_replaced(tmp_path):
    write(tmp_path / "_base_" / "b.yml", {"a": {"x": 1, "y": [1, 2]}, "keep": 5})
    child = write(tmp_path / "c.yml", {"_base_": "_base_/b.yml", "a": {"y": [9]}})
    assert load_yaml(child) == {"a": {"x": 1, "y": [9]}, "keep": 5}


def test_base_chain_is_relative_to_including_file(tmp_path):
    write(tmp_path / "base" / "root.yml", {"r": 1, "s": 1})
    write(tmp_path / "base" / "mid.yml", {"_base_": "root.yml", "s": 2})
    top = write(tmp_path / "top" / "t.yml", {"_base_": ["../base/mid.yml"], "t": 3})
    assert load_yaml(top) == {"r": 1, "s": 2, "t": 3}


def test_earlier_bases_win(tmp_path):
    write(tmp_path / "a.yml", {"v": "a"})
    write(tmp_path / "b.yml", {"v": "b", "only_b": 1})
    top = write(tmp_path / "t.yml", {"_base_": ["a.yml", "b.yml"]})
    assert load_yaml(top) == {"v": "a", "only_b": 1}


@pytest.mark.parametrize("marker", [{"_delete_": True}, {"_inherited_": False}])
def test_delete_and_inherited_false_replace_the_base_dict(tmp_path, marker):
    write(tmp_path / "b.yml", {"model": {"type": "UNet", "use_deconv": True}})
    top = write(tmp_path / "t.yml", {"_base_": "b.yml", "model": dict(marker, type="Other")})
    assert load_yaml(top) == {"model": {"type": "Other"}}


def test_cycle_names_the_chain(tmp_path):
    write(tmp_path / "a.yml", {"_base_": "b.yml"})
    write(tmp_path / "b.yml", {"_base_": "a.yml"})
    with pytest.raises(UserError, match=r"Cycle.*a\.yml -> .*b\.yml -> .*a\.yml"):
        load_yaml(str(tmp_path / "a.yml"))


def test_missing_base_names_the_includer(tmp_path):
    top = write(tmp_path / "t.yml", {"_base_": "nope.yml"})
    with pytest.raises(UserError, match=r"nope\.yml \(included from .*t\.yml\)"):
        load_yaml(top)


def test_origins_record_the_file_of_each_key(tmp_path):
    base = write(tmp_path / "b.yml", {"a": {"x": 1, "y": 2}})
    top = write(tmp_path / "t.yml", {"_base_": "b.yml", "a": {"y": 3}})
    origins = {}
    load_yaml(top, origins)
    assert origins["a.x"] == os.path.abspath(base) and origins["a.y"] == os.path.abspath(top)


@pytest.mark.parametrize("text,value", [("0.5", 0.5), ("[1, 2]", [1, 2]), ("True", True), ("true", True),
                                        ("null", None), ("0.75,1.0", (0.75, 1.0)), ("data/DRIVE", "data/DRIVE"),
                                        ("UNet", "UNet")])
def test_opts_values_parse_as_literals_else_strings(text, value):
    assert parse_value(text) == value


def test_opts_set_nested_and_new_leaf_but_not_unknown_section():
    dic = {"model": {"type": "UNet"}}
    apply_opts(dic, ["model.num_classes=3", "model.type=AttentionUNet"])
    assert dic == {"model": {"type": "AttentionUNet", "num_classes": 3}}
    with pytest.raises(UserError, match="'modle' is not a section"):
        apply_opts(dic, ["modle.num_classes=3"])
    with pytest.raises(UserError, match="exactly one '='"):
        apply_opts(dic, ["model.num_classes"])


def test_cli_overrides_and_missing_key(tmp_path):
    path = write(tmp_path / "c.yml", {"batch_size": 2, "iters": 10, "lr_scheduler": {"type": "PolynomialDecay",
                                                                                      "learning_rate": 0.1}})
    cfg = Config(path, learning_rate=0.5, batch_size=4, iters=7, opts=["iters=9"])
    assert (cfg.batch_size, cfg.iters, cfg.dic["lr_scheduler"]["learning_rate"]) == (4, 9, 0.5)
    with pytest.raises(UserError, match="No 'model' specified"):
        cfg.model
    saved = tmp_path / "out" / "config.yml"
    cfg.save(str(saved))
    assert yaml.safe_load(saved.read_text())["iters"] == 9
