"""--to_static_training end to end through tools/train.py: same losses as dygraph, exact resume, config key."""
import shutil

from tool_runner import final_checksum, run_tool, train_losses


def test_to_static_training_matches_dygraph_and_resumes_exactly(tmp_path):
    args = ("--iters", 4, "--save_interval", 2, "--log_iters", 1, "--seed", 3, "--do_eval")
    dygraph = run_tool("train", *args, "--save_dir", tmp_path / "dy")
    static = run_tool("train", *args, "--to_static_training", "--save_dir", tmp_path / "st")
    assert dygraph.returncode == 0 and static.returncode == 0, static.stderr[-2000:]
    assert "built an old-IR static program" in static.stdout
    assert train_losses(static.stdout) == train_losses(dygraph.stdout)
    shutil.copytree(tmp_path / "st", tmp_path / "resumed")
    shutil.rmtree(tmp_path / "resumed" / "iter_4")
    resumed = run_tool("train", *args, "--to_static_training", "--resume_model", "auto",
                       "--save_dir", tmp_path / "resumed")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert train_losses(resumed.stdout) == {it: loss for it, loss in train_losses(static.stdout).items() if it > 2}
    assert final_checksum(resumed.stdout) == final_checksum(static.stdout)


def test_to_static_training_from_the_config_key(tmp_path):
    proc = run_tool("train", "--iters", 1, "--save_dir", tmp_path, opts=["to_static_training=True"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "built an old-IR static program" in proc.stdout
