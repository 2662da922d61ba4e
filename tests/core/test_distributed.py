"""Two CPU processes under `python -m paddle.distributed.launch` (gloo): DataParallel training ends with
the same weights on both ranks (rank 0 checks and logs it), equal to rank 0's checkpoint, and the
sharded in-training evaluation reports what a single process reports for that checkpoint."""
import os
import re
import subprocess
import sys

import paddle

from paddleseg_lite.core import checkpoint
from tool_runner import ENV, ROOT, run_tool, tool_cmd


def test_two_process_training_agrees_across_ranks_and_with_one_process_eval(tmp_path):
    out, logs = tmp_path / "out", tmp_path / "logs"
    train = tool_cmd("train", "--iters", 4, "--save_interval", 2, "--log_iters", 1, "--do_eval", "--seed", 1,
                     "--save_dir", out)
    launch = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir", str(logs)]
    proc = subprocess.run(launch + train[1:], capture_output=True, text=True, timeout=300, cwd=ROOT, env=ENV)
    rank0 = (logs / "workerlog.0").read_text()
    assert proc.returncode == 0, rank0[-3000:] + (logs / "workerlog.1").read_text()[-3000:]
    match = re.search(r"Final weights checksum: ([0-9a-f]+) \(the same on all 2 ranks\)", rank0)
    assert match, rank0[-3000:]
    assert checkpoint.checksum(paddle.load(str(out / "iter_4" / "model.pdparams"))) == match.group(1)
    assert len(re.findall(r"\[TRAIN\] epoch: 1, iter: \d/4", rank0)) == 4  # 16 samples / (2 ranks x 2)
    distributed_eval = re.findall(r"\[EVAL\] #Images: 4 .*", rank0)[-1]
    single = run_tool("val", "--model_path", out / "iter_4" / "model.pdparams")
    assert single.returncode == 0, single.stderr[-2000:]
    assert re.search(r"\[EVAL\] #Images: 4 .*", single.stdout).group(0) == distributed_eval
