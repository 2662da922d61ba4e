"""Reproducibility and resuming through tools/train.py: same seed -> same losses and weights; resuming keeps
the best metric, LR and iteration. Runs killed with SIGKILL and resumed with --resume_model auto:
tests/faults/test_kill_resume.py."""
import os
import shutil

import numpy as np
import paddle
import pytest

from tool_runner import final_checksum, run_tool, train_losses

ITERS = 40
ARGS = ["--iters", ITERS, "--save_interval", 4, "--log_iters", 1, "--seed", 7]


def load_arrays(path):
    state = paddle.load(path)
    return {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for k, v in state.items() if hasattr(v, "shape")}


def assert_same_weights(dir_a, dir_b):
    a, b = load_arrays(os.path.join(dir_a, "model.pdparams")), load_arrays(os.path.join(dir_b, "model.pdparams"))
    assert sorted(a) == sorted(b)
    different = [k for k in a if not np.array_equal(a[k], b[k])]
    assert not different, "weights differ: {}".format(different[:5])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: (save_dir, stdout)."""
    out = str(tmp_path_factory.mktemp("reference"))
    proc = run_tool("train", *ARGS, "--save_dir", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out, proc.stdout


@pytest.mark.parametrize("num_workers", [0, 2])
def test_same_seed_gives_identical_losses_and_weights(reference, tmp_path, num_workers):
    ref_dir, ref_log = reference
    proc = run_tool("train", *ARGS, "--num_workers", num_workers, "--save_dir", tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    losses = train_losses(proc.stdout)
    assert sorted(losses) == list(range(1, ITERS + 1))
    assert losses == train_losses(ref_log)
    assert final_checksum(proc.stdout) == final_checksum(ref_log)
    assert_same_weights(os.path.join(ref_dir, "iter_{}".format(ITERS)), os.path.join(tmp_path, "iter_{}".format(ITERS)))


def states(path):
    return paddle.load(os.path.join(path, "model.pdstates"))


def test_resume_keeps_best_metric_lr_and_iteration(tmp_path):
    args = ["--iters", 4, "--save_interval", 2, "--log_iters", 1, "--do_eval", "--seed", 1,
            "--keep_checkpoint_max", 0]
    first = run_tool("train", *args, "--save_dir", tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    lr_at_3 = first.stdout.split("iter: 3/4")[1].split("lr: ")[1].split(",")[0]
    shutil.rmtree(tmp_path / "iter_4")
    shutil.rmtree(tmp_path / "best_model")
    doctored = dict(states(tmp_path / "iter_2"), best_metric=0.99, best_iter=2)
    paddle.save(doctored, str(tmp_path / "iter_2" / "model.pdstates"))
    second = run_tool("train", *args, "--save_dir", tmp_path, "--resume_model", tmp_path / "iter_2")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "Resume model from {} at iter 2".format(tmp_path / "iter_2") in second.stdout
    assert sorted(train_losses(second.stdout)) == [3, 4]
    assert second.stdout.split("iter: 3/4")[1].split("lr: ")[1].split(",")[0] == lr_at_3
    final = states(tmp_path / "iter_4")
    assert (final["best_metric"], final["best_iter"], final["iter"], final["seed"]) == (0.99, 2, 4, 1)
    assert "[EVAL] The model with the best validation mIoU (0.9900) was saved at iter 2." in second.stdout
    assert not os.path.exists(tmp_path / "best_model")


def test_corrupt_or_missing_resume_checkpoint_is_a_one_line_error(tmp_path):
    ckpt = tmp_path / "iter_2"
    ckpt.mkdir()
    for name in ("model.pdparams", "model.pdopt", "model.pdstates"):
        (ckpt / name).write_bytes(b"\x80\x04garbage")
    for resume, expected in [(ckpt, "Cannot read the model weights"), (tmp_path / "iter_9", "directory not found")]:
        proc = run_tool("train", "--iters", 4, "--save_dir", tmp_path, "--resume_model", resume)
        assert proc.returncode == 2
        assert proc.stderr.startswith("error: ") and expected in proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
