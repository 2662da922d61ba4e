"""kill -9 at random points of a training run, during training steps and inside checkpoint saves, then
`--resume_model auto` to the end: the final weights are bit-identical to an uninterrupted run's and no
temporary file is left.

The runs go through WRAPPER, which numbers the run's events (a [TRAIN] line; before and after each
paddle.save and os.replace, i.e. inside the atomic checkpoint and config writes) and SIGKILLs its own
process at event KILL_AT: kill points drawn per seed from the events of the uninterrupted run land
exactly where intended. One more run is killed from outside at a random moment while a checkpoint is
being written (WRAPPER slows each file write so the test can see the `.tmp-` directory and aim at it).
"""
import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest

from fault_check import leftover_temps
from tool_runner import ENV, ROOT, final_checksum, tool_cmd, train_losses

ITERS = 12
# fp32: this seed's reference run then improves its best model after the first evaluation, so a kill can land
# between the two renames that replace best_model/ (bf16 resume is bit-exact too: tests/core/test_resume.py).
ARGS = ["--iters", ITERS, "--save_interval", 3, "--log_iters", 1, "--seed", 7, "--do_eval", "--keep_checkpoint_max", 2,
        "--precision", "fp32"]
WRAPPER = r"""
import logging, os, runpy, signal, sys, time
import paddle

kill_at, slow = int(os.environ.get("KILL_AT", "0")), float(os.environ.get("SLOW_SAVE", "0"))
events = []


def event(kind, name=""):
    events.append(kind)
    if os.environ.get("EVENTS"):
        with open(os.environ["EVENTS"], "a") as f:
            f.write("{} {}\n".format(kind, name))
    if len(events) == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)


def traced(kind, real):
    def call(src, dst, *args, **kwargs):  # paddle.save(obj, path) / os.replace(src, dst)
        name = os.path.relpath(dst, os.path.dirname(os.path.dirname(dst))) if kind == "save" else os.path.basename(src)
        event(kind, name)
        if slow and kind == "save" and ".tmp-" in name:
            time.sleep(slow)
        real(src, dst, *args, **kwargs)
        event(kind + "d", name)
    return call


paddle.save, os.replace = traced("save", paddle.save), traced("replace", os.replace)
# Ctrl-C as in a terminal, also when pytest runs as a background job (`cmd &`), whose children inherit SIGINT ignored
signal.signal(signal.SIGINT, signal.default_int_handler)
import paddleseg_lite.utils.logger  # noqa: E402  (its stdout handler first)
step = logging.Handler()
step.emit = lambda record: record.getMessage().startswith("[TRAIN]") and event("step")
logging.getLogger("paddleseg_lite").addHandler(step)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
KILL_POINTS = [  # seed i draws its kill point among the reference run's events that match KILL_POINTS[i]:
    # (event kind or any, regular expression of the name, whether the kill leaves a temporary behind)
    ("step", "", False),                  # between training steps
    ("save", r"\.tmp-.*", True),          # before a checkpoint file is written: a partly filled temporary directory
    ("replace", r"\.tmp-.*", True),       # every file written, before the rename into place
    ("replaced", "best_model", True),     # the old best_model/ moved aside, the new one not yet in place
    ("", ".*", None),                     # any event (the config.yml write included)
]
SEEDS = range(len(KILL_POINTS))


def train(save_dir, *extra, env=(), wait=True):
    """tools/train.py through WRAPPER with stdout and stderr in `<save_dir>.log`; returns the Popen."""
    cmd = tool_cmd("train", *ARGS, "--save_dir", save_dir, *extra)
    with open(str(save_dir) + ".log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-c", WRAPPER, *cmd[1:]], stdout=log, stderr=subprocess.STDOUT,
                                cwd=ROOT, env=dict(ENV, **dict(env)))
    if wait:
        proc.wait(timeout=180)
    return proc


def output(save_dir):
    with open(str(save_dir) + ".log") as f:
        return f.read()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: (stdout, [(kind, name)] of its events)."""
    root = tmp_path_factory.mktemp("reference")
    events = root / "events.txt"
    proc = train(root / "out", env={"EVENTS": str(events)})
    assert proc.returncode == 0, output(root / "out")[-3000:]
    return output(root / "out"), [tuple(line.split()) for line in events.read_text().splitlines()]


def resume_and_compare(save_dir, reference_log):
    """Rerun with --resume_model auto to the end; assert it ends as the reference and left no temp file."""
    proc = train(save_dir, "--resume_model", "auto")
    log = output(save_dir)
    assert proc.returncode == 0, log[-3000:]
    assert final_checksum(log) == final_checksum(reference_log)
    resumed = re.search(r"Resume model from \S+ at iter (\d+)", log)
    start = int(resumed.group(1)) if resumed else 0  # a run killed before its first checkpoint starts over
    ref_losses, losses = train_losses(reference_log), train_losses(log)
    assert losses == {it: ref_losses[it] for it in range(start + 1, ITERS + 1)}
    assert not leftover_temps(save_dir), leftover_temps(save_dir)


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_at_a_random_event_then_resume_ends_bit_identical(reference, tmp_path, seed):
    reference_log, events = reference
    kind, name, in_save = KILL_POINTS[seed]
    kill_at = random.Random(seed).choice([i + 1 for i, (k, *n) in enumerate(events)
                                          if kind in ("", k) and re.fullmatch(name, "".join(n))])
    save_dir = tmp_path / "out"
    killed = train(save_dir, env={"KILL_AT": str(kill_at)})
    assert killed.returncode == -signal.SIGKILL, (events[kill_at - 1], output(save_dir)[-2000:])
    assert in_save is None or bool(leftover_temps(save_dir)) == in_save, events[kill_at - 1]
    resume_and_compare(save_dir, reference_log)


def test_kill_from_outside_while_a_checkpoint_is_written(reference, tmp_path):
    reference_log, _ = reference
    save_dir, rng = tmp_path / "out", random.Random(len(SEEDS))
    proc = train(save_dir, env={"SLOW_SAVE": "0.2"}, wait=False)
    deadline = time.time() + 120
    saves = rng.randint(1, 3)  # aim at the first, second or third checkpoint
    while proc.poll() is None and time.time() < deadline:
        temps = [n for n in os.listdir(save_dir) if n.startswith(".tmp-iter_")] if save_dir.is_dir() else []
        if temps and temps[0].startswith(".tmp-iter_{}-".format(3 * saves)):
            time.sleep(rng.uniform(0, 0.5))  # somewhere among the three slowed file writes
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert leftover_temps(save_dir), "the kill missed the checkpoint write"
    resume_and_compare(save_dir, reference_log)


def test_ctrl_c_during_a_checkpoint_write_is_one_word_then_resume_ends_bit_identical(reference, tmp_path):
    reference_log, _ = reference
    save_dir = tmp_path / "out"
    proc = train(save_dir, env={"SLOW_SAVE": "0.2"}, wait=False)
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline and not (
            save_dir.is_dir() and any(n.startswith(".tmp-iter_") for n in os.listdir(save_dir))):
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    log = output(save_dir)
    assert proc.returncode == 130 and log.rstrip().endswith("interrupted"), log[-2000:]
    assert "Traceback" not in log
    resume_and_compare(save_dir, reference_log)
