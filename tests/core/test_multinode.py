"""Two nodes: two `paddle.distributed.launch --nnodes 2 --master 127.0.0.1:PORT` invocations on this
machine (one process each) train exactly as one node with two processes: the same loss lines, the
same evaluation lines and the same final weights."""
import re
import socket
import subprocess
import sys

from tool_runner import ENV, ROOT, tool_cmd

TRAIN = ("--iters", 4, "--save_interval", 2, "--log_iters", 1, "--do_eval", "--seed", 1)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(log_dir, save_dir, *launch_args):
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--log_dir", str(log_dir), *launch_args]
    return subprocess.Popen(cmd + tool_cmd("train", *TRAIN, "--save_dir", save_dir)[1:], cwd=ROOT, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _report(log_file):
    text = log_file.read_text()
    lines = re.findall(r"\[(?:TRAIN|EVAL)\] (?:epoch.*loss: \d\.\d{4}|#Images.*)", text)
    checksum = re.search(r"Final weights checksum: ([0-9a-f]+) \(the same on all 2 ranks\)", text)
    assert checksum, text[-3000:]
    return lines, checksum.group(1)


def test_two_nodes_train_like_one_node_with_two_processes(tmp_path):
    one = _launch(tmp_path / "one_log", tmp_path / "one", "--nproc_per_node", "2")
    assert one.wait(timeout=300) == 0
    master = "127.0.0.1:{}".format(_free_port())
    nodes = [_launch(tmp_path / "node{}".format(i), tmp_path / "two", "--nnodes", "2", "--master", master,
                     "--nproc_per_node", "1") for i in range(2)]
    assert [node.wait(timeout=300) for node in nodes] == [0, 0]
    reference, reference_sum = _report(tmp_path / "one_log" / "workerlog.0")
    assert len(reference) == 6  # 4 [TRAIN] + 2 [EVAL] lines
    rank0 = next(p for p in (tmp_path / "node0", tmp_path / "node1") if (p / "backup_env.0.json").exists())
    assert _report(rank0 / "workerlog.0") == (reference, reference_sum)
