"""tools/train.py: flags are overrides of config keys, and save_dir/config.yml alone reruns the run."""
import os
import subprocess
import sys

from tool_runner import ENV, ROOT, final_checksum, run_tool, train_losses


def test_saved_config_alone_reproduces_the_run(tmp_path):
    first = run_tool("train", "--iters", 4, "--save_interval", 2, "--log_iters", 1, "--seed", 3, "--do_eval",
                     "--keep_checkpoint_max", 1, "--save_best_metric", "dice_fg", "--save_dir", tmp_path / "a")
    assert first.returncode == 0, first.stderr[-2000:]
    rerun = [sys.executable, os.path.join(ROOT, "tools", "train.py"), "--config", str(tmp_path / "a" / "config.yml"),
             "--device", "cpu", "--save_dir", str(tmp_path / "b")]
    second = subprocess.run(rerun, capture_output=True, text=True, timeout=180, cwd=ROOT, env=ENV)
    assert second.returncode == 0, second.stderr[-2000:]
    assert len(train_losses(first.stdout)) == 4
    assert train_losses(second.stdout) == train_losses(first.stdout)
    assert final_checksum(second.stdout) == final_checksum(first.stdout)
    assert sorted(os.listdir(tmp_path / "b")) == ["best_model", "config.yml", "iter_4", "train.log"]
    assert "[EVAL] The model with the best validation dice_fg" in second.stdout


def test_a_flag_beats_the_config_key_and_is_recorded(tmp_path):
    proc = run_tool("train", "--iters", 2, "--log_iters", 2, "--seed", 5, "--save_dir", tmp_path,
                    opts=["save_interval=1"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p for p in os.listdir(tmp_path) if p.startswith("iter_")) == ["iter_1", "iter_2"]
    saved = (tmp_path / "config.yml").read_text()
    assert "save_interval: 1\n" in saved and "log_iters: 2\n" in saved and "seed: 5\n" in saved


def test_unknown_top_level_key_is_one_line(tmp_path):
    proc = run_tool("train", "--iters", 2, "--save_dir", tmp_path, opts=["itres=5"])
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "unknown top-level key 'itres'. Did you mean 'iters'?" in proc.stderr
