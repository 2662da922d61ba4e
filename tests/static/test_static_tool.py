"""The static step through tools/train.py: the default (to_static_training auto), same losses as dygraph,
exact resume across steps, the config keys and what config.yml records."""
import shutil

import yaml

from fault_check import assert_one_error
from paddleseg_lite.utils.cpu import cpu_has_fast_bf16
from tool_runner import run_tool, train_losses

AUTO_PRECISION = "bf16" if cpu_has_fast_bf16() else "fp32"


def _recorded(save_dir):
    with open(save_dir / "config.yml") as f:
        config = yaml.safe_load(f)
    return config["to_static_training"], config["precision"]


def test_to_static_training_matches_dygraph_and_resumes_exactly_from_either_step(tmp_path):
    args = ("--iters", 4, "--save_interval", 2, "--log_iters", 1, "--seed", 3, "--do_eval", "--precision", "fp32")
    dygraph = run_tool("train", *args, "--to_static_training", "False", "--save_dir", tmp_path / "dy")
    static = run_tool("train", *args, "--to_static_training", "--save_dir", tmp_path / "st")
    assert dygraph.returncode == 0 and static.returncode == 0, static.stderr[-2000:]
    assert "built an old-IR static program" in static.stdout
    assert "static program" not in dygraph.stdout and "Training step: " not in dygraph.stdout
    assert train_losses(static.stdout) == train_losses(dygraph.stdout)
    assert _recorded(tmp_path / "dy") == (False, "fp32") and _recorded(tmp_path / "st") == (True, "fp32")
    shutil.copytree(tmp_path / "dy", tmp_path / "resumed")  # a dygraph checkpoint, resumed by the default step
    shutil.rmtree(tmp_path / "resumed" / "iter_4")
    resumed = run_tool("train", *args, "--resume_model", "auto", "--save_dir", tmp_path / "resumed")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Training step: static graph, precision fp32 (to_static_training auto)" in resumed.stdout
    assert train_losses(resumed.stdout) == {it: loss for it, loss in train_losses(static.stdout).items() if it > 2}


def test_the_default_is_the_static_step_and_config_yml_records_the_precision_that_trains(tmp_path):
    proc = run_tool("train", "--iters", 1, "--save_dir", tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Training step: static graph, precision {} (to_static_training auto)".format(AUTO_PRECISION) in proc.stdout
    assert _recorded(tmp_path) == ("auto", AUTO_PRECISION)
    rerun = run_tool("train", "--config", tmp_path / "config.yml", "--save_dir", tmp_path / "rerun",
                     opts=["to_static_training=False"])
    if AUTO_PRECISION == "bf16":  # the recorded bf16 needs the static step
        assert_one_error(rerun, "precision bf16", "to_static_training is False", "set precision: auto or fp32")
    else:
        assert rerun.returncode == 0 and "static program" not in rerun.stdout, rerun.stderr[-2000:]
