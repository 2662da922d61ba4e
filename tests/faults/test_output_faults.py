"""Fault category 4, output locations: an unusable --save_dir is refused at start by every tool; a full
disk (ENOSPC, simulated by patching `open`, no root needed) during a checkpoint, config.yml, log or
output write gives one line, leaves no half-written temporary and keeps the earlier checkpoints, so
the rerun with --resume_model auto works; an evaluation that crashes inside training keeps the
interval's weights, and the resumed run ends as an uninterrupted one."""
import builtins
import errno
import logging
import os
import subprocess

import cv2
import numpy as np
import paddle
import pytest

from fault_check import assert_one_error, leftover_temps
from paddleseg_lite.core import checkpoint_files
from paddleseg_lite.core import trainer as trainer_module
from paddleseg_lite.core.train import train
from paddleseg_lite.cvlibs import Config
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from tool_runner import CONFIG, ENV, ROOT, TINY, load_tool, save_tiny_weights, tool_cmd

# Runs a tool with `open` patched: the FAULT_ENOSPC=<substring>:<n>-th file opened for writing whose path
# holds <substring> gets half its first write, then ENOSPC; the disk then stays full (every write fails)
# while that half-written file exists, as it would on a real disk. FAULT_FULL_WHILE=<path> starts the
# run with the disk full while <path> exists (a stale temporary of an earlier run).
INJECT = r"""
import builtins, errno, os, runpy, sys
target, nth = os.environ.get("FAULT_ENOSPC", ":0").rsplit(":", 1)
full_while, real_open, matched = [os.environ.get("FAULT_FULL_WHILE")], builtins.open, []

def disk_full(path):
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

class HalfWritten:
    def __init__(self, f):
        self.f = f
    def write(self, data):
        self.f.write(data[:len(data) // 2])
        self.f.flush()
        raise disk_full(self.f.name)
    def __getattr__(self, name):
        return getattr(self.f, name)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.f.close()

def fault_open(file, mode="r", *args, **kwargs):
    if isinstance(file, str) and any(c in mode for c in "wax+"):
        if full_while[0] and os.path.exists(full_while[0]):
            raise disk_full(file)
        if target and target in file:
            matched.append(file)
            if len(matched) == int(nth):
                full_while[0] = file
                return HalfWritten(real_open(file, mode, *args, **kwargs))
    return real_open(file, mode, *args, **kwargs)

builtins.open = fault_open
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_with_faults(tool, *args, **faults):
    cmd = tool_cmd(tool, *args)
    cmd[1:1] = ["-c", INJECT]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=ROOT, env=dict(ENV, **faults))


def test_disk_full_during_a_checkpoint_then_the_rerun_resumes(tmp_path):
    save_dir = tmp_path / "run"
    args = ["--iters", 4, "--save_interval", 2, "--seed", 1, "--save_dir", save_dir]
    full = run_with_faults("train", *args, FAULT_ENOSPC="model.pdopt:2")  # iter_4's optimizer file
    assert_one_error(full, "Cannot write {}: the disk is full".format(save_dir / "iter_4"), "--resume_model auto")
    assert sorted(os.listdir(save_dir)) == ["config.yml", "iter_2", "train.log"] and not leftover_temps(save_dir)
    assert checkpoint_files.load_dir(str(save_dir / "iter_2"))[2]["iter"] == 2
    stale = save_dir / ".tmp-iter_4-0123abcd" / "model.pdparams"  # as a writer killed on a full disk leaves
    stale.parent.mkdir()
    stale.write_bytes(b"half")
    rerun = run_with_faults("train", *args, "--resume_model", "auto", FAULT_FULL_WHILE=str(stale))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "Resume model from {} at iter 2".format(save_dir / "iter_2") in rerun.stdout
    assert "iter: 4/4" in rerun.stdout and "Traceback" not in rerun.stderr
    assert sorted(os.listdir(save_dir)) == ["config.yml", "iter_2", "iter_4", "train.log"]


def test_train_refuses_a_save_dir_that_is_a_file_at_start(tmp_path):
    path = tmp_path / "taken"
    path.write_text("a file")
    result = subprocess.run(tool_cmd("train", "--iters", 2, "--save_dir", path), capture_output=True, text=True,
                            timeout=180, cwd=ROOT, env=ENV)
    assert_one_error(result, "--save_dir {}: cannot write output there (it is a file)".format(path))
    assert result.stdout == "" and os.listdir(tmp_path) == ["taken"]


def unusable_save_dirs(tmp_path):
    (tmp_path / "file").write_text("x")
    return {str(tmp_path / "file"): "it is a file", str(tmp_path / "file" / "sub"): "{} is a file".format(
        tmp_path / "file"),
            "/proc/paddleseg_lite_out": ""}


@pytest.mark.parametrize("tool, args", [
    ("val", ["--model_path", "missing.pdparams"]),
    ("predict", ["--model_path", "missing.pdparams", "--image_path", "missing.png"]),
    ("export", ["--model_path", "missing.pdparams"]),
    ("train", ["--resume_model", "missing"]),
])
def test_every_tool_refuses_an_unusable_save_dir_before_any_work(tmp_path, tool, args):
    """Checked before the config, the weights or the images are read (all missing here)."""
    main = load_tool(tool).main
    for save_dir, reason in unusable_save_dirs(tmp_path).items():
        with pytest.raises(UserError) as error:
            main(["--config", "missing.yml", *args, "--save_dir", save_dir])
        assert str(error.value).startswith("--save_dir {}: cannot write output there ({}".format(save_dir, reason))
    assert sorted(os.listdir(tmp_path)) == ["file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_save_dir_is_refused(tmp_path):
    (tmp_path / "ro").mkdir(mode=0o555)
    with pytest.raises(UserError, match="Permission denied"):
        load_tool("val").main(["--config", "missing.yml", "--model_path", "m", "--save_dir", str(tmp_path / "ro")])


class HalfWritten:
    """A file whose first write stores half its bytes, then fails with ENOSPC."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        self.f.write(data[:len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


@pytest.fixture
def disk_full(monkeypatch):
    """Make writes to paths holding a substring fail with ENOSPC after half their bytes."""
    real_open = builtins.open

    def install(substring):
        def fault_open(file, mode="r", *args, **kwargs):
            f = real_open(file, mode, *args, **kwargs)
            return HalfWritten(f) if "w" in mode and substring in str(file) else f
        monkeypatch.setattr(builtins, "open", fault_open)
    return install


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "model.pdparams"
    save_tiny_weights(path)
    return str(path)


def test_disk_full_during_val_and_predict_outputs(tmp_path, weights, disk_full):
    image = tmp_path / "eye.png"
    cv2.imwrite(str(image), np.full((20, 30, 3), 90, np.uint8))
    common = ["--config", CONFIG, "--device", "cpu", "--model_path", weights, "--engine", "dygraph"]
    disk_full(".per_image_")
    with pytest.raises(UserError, match="^Cannot write {}: the disk is full".format(
            tmp_path / "val" / "per_image_metrics.csv")):
        load_tool("val").main(common + ["--save_dir", str(tmp_path / "val"), "--opts", *TINY])
    for report_file in ("images/0000_synthetic_val_0000_errors.png", "index.html"):
        disk_full(report_file)
        target = tmp_path / "val" / report_file
        with pytest.raises(UserError, match="^Cannot write {}: the disk is full".format(target)):
            load_tool("val").main(common + ["--save_dir", str(tmp_path / "val"), "--opts", *TINY])
    disk_full("pseudo_color_prediction")
    with pytest.raises(UserError, match="^Cannot write {}: the disk is full".format(
            tmp_path / "result" / "pseudo_color_prediction" / "eye.png")):
        load_tool("predict").main(common + ["--image_path", str(image), "--save_dir", str(tmp_path / "result"),
                                            "--opts", *TINY])
    assert not leftover_temps(tmp_path)


def test_disk_full_during_config_yml_and_the_train_log(tmp_path, disk_full, capsys):
    disk_full("config.yml")
    with pytest.raises(UserError, match="^Cannot write {}: the disk is full".format(tmp_path / "config.yml")):
        Config(CONFIG, opts=list(TINY)).save(str(tmp_path / "config.yml"))
    assert os.listdir(tmp_path) == []
    logger.add_file(str(tmp_path / "train.log"))
    handler = logging.getLogger("paddleseg_lite").handlers[-1]
    handler.stream = HalfWritten(handler.stream)
    logger.info("first")
    logger.info("second")
    assert handler not in logging.getLogger("paddleseg_lite").handlers
    assert capsys.readouterr().err == "warning: stopped writing the log file {}: [Errno 28] No space left on " \
                                      "device\n".format(tmp_path / "train.log")


class Data:
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return {"img": np.full((1, 2, 2), i + 1.0, np.float32), "label": np.zeros((2, 2), np.int64)}


class Scale(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.w = self.create_parameter([1], default_initializer=paddle.nn.initializer.Constant(1.0))

    def forward(self, x):
        return [x * self.w]


class Evaluations:
    """Stands for evaluate_metrics: the scripted mIoUs in order; "crash" raises as a bad val image would."""

    def __init__(self, *mious):
        self.mious = list(mious)

    def __call__(self, model, dataset, options, **kwargs):
        miou = self.mious.pop(0)
        if miou == "crash":
            raise UserError("val_dataset: cannot read image 3")
        return {"mIoU": miou, "Acc": 0.5, "class_iou": np.array([1.0, miou])}, []


def run(save_dir, monkeypatch, mious, **kwargs):
    monkeypatch.setattr(trainer_module, "evaluate_metrics", Evaluations(*mious))
    model = Scale()
    optimizer = paddle.optimizer.Momentum(paddle.optimizer.lr.PolynomialDecay(0.1, 6), parameters=model.parameters())
    train(model, Data(), "val-set", optimizer, str(save_dir), iters=6, batch_size=2, save_interval=2, seed=0,
          keep_checkpoint_max=0, losses={"types": [lambda logits, label: [logits.mean()]], "coef": [1.0]}, **kwargs)


def test_a_crash_in_the_evaluation_keeps_the_weights_and_the_resumed_run_evaluates_them(tmp_path, monkeypatch):
    run(tmp_path / "whole", monkeypatch, [0.5, 0.7, 0.6])
    with pytest.raises(UserError, match="cannot read image 3"):
        run(tmp_path / "crashed", monkeypatch, [0.5, "crash"])
    pending = paddle.load(str(tmp_path / "crashed" / "iter_4" / "model.pdstates"))
    assert pending["eval_pending"] is True and pending["best_iter"] == 2
    run(tmp_path / "crashed", monkeypatch, [0.7, 0.6], resume_model="auto")  # iter 4 is evaluated first
    for name in ("iter_4", "iter_6", "best_model"):
        for file in checkpoint_files.FILES:  # values in order: accumulator names differ between the two models
            whole, resumed = ([np.asarray(v).tolist() if hasattr(v, "shape") else v for v in
                               paddle.load(str(tmp_path / run_dir / name / file)).values()]
                              for run_dir in ("whole", "crashed"))
            assert whole == resumed, (name, file)
    assert not leftover_temps(tmp_path)
