import os

import pytest
import yaml

from paddleseg_lite.cvlibs.config import Config
from paddleseg_lite.cvlibs.config_file import apply_opts, load_yaml, merge, parse_value
from paddleseg_lite.utils.errors import UserError


def write(path, dic):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        yaml.safe_dump(dic, f)
    return str(path)


def write_text(path, text):
    path.write_text(text, encoding="utf-8")
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
    write(tmp_path / "b.yml", {"model": {"type": "UNet", "use_deconv": True}, "new": 1})
    top = write(tmp_path / "t.yml", {"_base_": "b.yml", "model": dict(marker, type="Other"),
                                     "extra": dict(marker, a=1)})
    assert load_yaml(top) == {"model": {"type": "Other"}, "new": 1, "extra": {"a": 1}}


@pytest.mark.parametrize("marker", [{"_delete_": False}, {"_inherited_": True}])
def test_delete_false_and_inherited_true_still_merge(tmp_path, marker):
    write(tmp_path / "b.yml", {"model": {"type": "UNet", "use_deconv": True}})
    top = write(tmp_path / "t.yml", {"_base_": "b.yml", "model": dict(marker, type="Other")})
    assert load_yaml(top) == {"model": {"type": "Other", "use_deconv": True}}


@pytest.mark.parametrize("marker", [{"_delete_": True}, {"_inherited_": False}])
def test_top_level_marker_discards_the_bases(tmp_path, marker):
    # PaddleSeg: a file with `_inherited_: False` at its top level does not inherit at all
    write(tmp_path / "b.yml", {"iters": 10, "model": {"type": "UNet"}})
    top = write(tmp_path / "t.yml", dict(marker, _base_="b.yml", model={"type": "Other"}))
    origins = {}
    assert load_yaml(top, origins) == {"model": {"type": "Other"}}
    assert origins == {"model.type": top}


def test_merge_modifies_and_shares_nothing():
    base = {"a": {"x": [1]}, "b": {"y": 1}}
    child = {"b": {"z": [2]}, "c": [[3]]}
    merged = merge(child, base)
    assert merged == {"a": {"x": [1]}, "b": {"y": 1, "z": [2]}, "c": [[3]]}
    merged["a"]["x"].append(0)
    merged["b"]["z"].append(0)
    merged["c"][0].append(0)
    assert base == {"a": {"x": [1]}, "b": {"y": 1}} and child == {"b": {"z": [2]}, "c": [[3]]}


def test_cycle_names_the_chain(tmp_path):
    a, b = write(tmp_path / "a.yml", {"_base_": "b.yml"}), write(tmp_path / "b.yml", {"_base_": "a.yml"})
    with pytest.raises(UserError) as e:
        load_yaml(a)
    assert str(e.value) == "Cycle in _base_ includes: {} -> {} -> {}".format(a, b, a)


def test_missing_file_messages_name_the_include_chain(tmp_path):
    with pytest.raises(UserError) as e:
        load_yaml(str(tmp_path / "none.yml"))
    assert str(e.value) == "Config file not found: {}".format(tmp_path / "none.yml")
    top = write(tmp_path / "t.yml", {"_base_": "mid.yml"})
    mid = write(tmp_path / "mid.yml", {"_base_": "nope.yml"})
    with pytest.raises(UserError) as e:
        load_yaml(top)
    assert str(e.value) == "Config file not found: {} (included from {} -> {})".format(
        tmp_path / "nope.yml", top, mid)


def test_extension_must_be_yml_or_yaml(tmp_path):
    assert load_yaml(write(tmp_path / "c.yaml", {"iters": 3})) == {"iters": 3}
    bad = write(tmp_path / "c.txt", {"iters": 3})
    with pytest.raises(UserError) as e:
        load_yaml(bad)
    assert str(e.value) == "Config file must end with .yml or .yaml: {}".format(bad)


def test_invalid_yaml_is_one_line_naming_the_file(tmp_path):
    bad = write_text(tmp_path / "bad.yml", "a: [1, 2\n")
    with pytest.raises(UserError) as e:
        load_yaml(bad)
    msg = str(e.value)
    assert msg.startswith("Invalid YAML in {}: while parsing a flow sequence ".format(bad)) and "\n" not in msg
    assert "expected ',' or ']', but got '<stream end>'" in msg


def test_non_mapping_and_empty_files(tmp_path):
    listing = write_text(tmp_path / "l.yml", "- 1\n- 2\n")
    with pytest.raises(UserError) as e:
        load_yaml(listing)
    assert str(e.value) == "Config {} must be a mapping of keys, got list".format(listing)
    assert load_yaml(write_text(tmp_path / "empty.yml", "")) == {}


def test_utf8_values_are_read(tmp_path):
    assert load_yaml(write_text(tmp_path / "u.yml", "name: Gefäße\n")) == {"name": "Gefäße"}


def test_origins_record_the_file_of_each_leaf(tmp_path):
    base = write(tmp_path / "b.yml", {"a": {"x": 1, "y": 2}, "model": {"type": "UNet", "use_deconv": True},
                                      "leaf": 1, "tree": {"k": 1}})
    top = write(tmp_path / "t.yml", {"_base_": "b.yml", "a": {"y": 3, "n": {"deep": {"er": 1}}},
                                     "model": {"_delete_": True, "type": "X"}, "leaf": {"now": "dict"},
                                     "tree": [1], "empty": {}})
    origins = {}
    load_yaml(top, origins)
    assert origins == {"a.x": base, "a.y": top, "a.n.deep.er": top, "model.type": top, "leaf.now": top,
                       "tree": top, "empty": top}


@pytest.mark.parametrize("text,value", [("0.5", 0.5), ("[1, 2]", [1, 2]), ("True", True), ("true", True),
                                        ("null", None), ("0.75,1.0", (0.75, 1.0)), ("data/DRIVE", "data/DRIVE"),
                                        ("UNet", "UNet"), ("runs/a #2", "runs/a #2"), ("'open", "'open"),
                                        ("{a: 1}", {"a": 1})])
def test_opts_values_parse_as_literals_else_strings(text, value):
    assert parse_value(text) == value


def test_opts_set_nested_and_new_leaf_but_not_unknown_section():
    dic = {"model": {"type": "UNet", "backbone": 3}}
    apply_opts(dic, ["model.num_classes=3", "model.type=AttentionUNet", "iters=5"])
    assert dic == {"model": {"type": "AttentionUNet", "num_classes": 3, "backbone": 3}, "iters": 5}
    with pytest.raises(UserError) as e:
        apply_opts(dic, ["modle.num_classes=3"])
    assert str(e.value) == "--opts modle.num_classes=3: 'modle' is not a section of the config; cannot set it"
    with pytest.raises(UserError) as e:
        apply_opts(dic, ["model.backbone.depth=3"])
    assert str(e.value) == ("--opts model.backbone.depth=3: 'model.backbone' is not a section of the config; "
                            "cannot set it")
    for item in ("model.num_classes", "=5", "a=b=c"):
        with pytest.raises(UserError) as e:
            apply_opts(dic, [item])
        assert str(e.value) == "--opts item '{}' must look like key.subkey=value (exactly one '=')".format(item)


def test_cli_overrides_come_after_the_file_and_opts_last(tmp_path):
    path = write(tmp_path / "c.yml", {"batch_size": 2, "iters": 10, "model": {"type": "UNet"},
                                      "lr_scheduler": {"type": "PolynomialDecay", "learning_rate": 0.1}})
    cfg = Config(path, learning_rate=0.5, batch_size=4, iters=7, opts=["iters=9", "model.num_classes=3"])
    assert cfg.path == path
    assert cfg.dic == {"batch_size": 4, "iters": 9, "model": {"type": "UNet", "num_classes": 3},
                       "lr_scheduler": {"type": "PolynomialDecay", "learning_rate": 0.5}}
    assert cfg.origins == {"batch_size": "--batch_size", "iters": "--opts", "model.type": os.path.abspath(path),
                           "model.num_classes": "--opts", "lr_scheduler.type": os.path.abspath(path),
                           "lr_scheduler.learning_rate": "--learning_rate"}
    assert (cfg.batch_size, cfg.iters) == (4, 9)


def test_cli_iters_and_learning_rate_without_a_section(tmp_path):
    cfg = Config(write(tmp_path / "c.yml", {"iters": 10}), learning_rate=0.5, iters=7)
    assert cfg.dic == {"iters": 7, "lr_scheduler": {"learning_rate": 0.5}}
    assert cfg.origins == {"iters": "--iters", "lr_scheduler.learning_rate": "--learning_rate"}


TRAIN_KEYS = ("batch_size", "iters", "train_dataset", "optimizer", "lr_scheduler", "loss", "model")


@pytest.mark.parametrize("missing", TRAIN_KEYS)
def test_check_train_names_the_missing_key_and_file(tmp_path, missing):
    path = write(tmp_path / "c.yml", {k: 1 for k in TRAIN_KEYS if k != missing})
    with pytest.raises(UserError) as e:
        Config(path).check_train()
    assert str(e.value) == "No '{}' specified in the configuration file {}".format(missing, path)


def test_str_puts_the_main_keys_first_and_keeps_file_order(tmp_path):
    # seed and log_ranks: not in the dump order, so they follow in file order (not sorted)
    path = write_text(tmp_path / "c.yml", "seed: 1\nmodel: {type: UNet, num_classes: 2}\nbatch_size: 2\n"
                                          "log_ranks: '0,1'\n")
    assert str(Config(path)) == "batch_size: 2\nmodel: {type: UNet, num_classes: 2}\nseed: 1\nlog_ranks: 0,1\n"


def test_save_writes_the_resolved_config_and_overwrites(tmp_path):
    write(tmp_path / "b.yml", {"iters": 10, "model": {"type": "UNet", "num_classes": 2}})
    path = write(tmp_path / "c.yml", {"_base_": "b.yml", "batch_size": 2})
    saved = tmp_path / "out" / "config.yml"
    Config(path, iters=3).save(str(saved))
    Config(path, opts=["model.num_classes=1"]).save(str(saved))
    assert yaml.safe_load(saved.read_text()) == {"batch_size": 2, "iters": 10,
                                                 "model": {"type": "UNet", "num_classes": 1}}
    assert os.listdir(tmp_path / "out") == ["config.yml"]
