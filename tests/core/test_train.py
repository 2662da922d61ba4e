"""tools/train.py end to end on tiny data: logs, checkpoint layout, best model, VisualDL, NaN, AMP."""
import glob
import hashlib
import importlib
import random
import logging
import os
import re
import types

import numpy as np
import paddle
import pytest

from paddleseg_lite.core import steps as steps_module
from paddleseg_lite.core import train_log as train_log_module
from paddleseg_lite.core import trainer as trainer_module
from paddleseg_lite.core.inference_options import InferenceOptions
from paddleseg_lite.core.train import train
from paddleseg_lite.core.trainer import Trainer, seed_everything
from paddleseg_lite.cvlibs import Config
from paddleseg_lite.cvlibs.run_settings import TrainSettings
from paddleseg_lite.models.losses import NAN_HINT
from paddleseg_lite.static import step as static_step_module
from paddleseg_lite.static import StaticStep
from paddleseg_lite.utils.errors import UserError
from tool_runner import CONFIG, TINY, TRAIN_LINE, run_tool, train_losses

train_module = importlib.import_module("paddleseg_lite.core.train")  # the package exports train() under this name

EVAL_LINE = re.compile(r"\[EVAL\] #Images: 4 mIoU: \d\.\d{4} Acc: \d\.\d{4} Kappa: -?\d\.\d{4} Dice: \d\.\d{4} "
                       r"Auc_roc: \d\.\d{4}\n")
VESSEL_LINE = re.compile(r"\[EVAL\] Vessel \((inside FOV|whole image)\): Dice/F1: \d\.\d{4} Se: \d\.\d{4} "
                         r"Sp: \d\.\d{4} Acc: \d\.\d{4} IoU: \d\.\d{4} Precision: \d\.\d{4} AUC: \d\.\d{4}\n")


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory):
    """4 iterations, evaluated and saved every 2, best model by dice_fg, VisualDL on."""
    out = str(tmp_path_factory.mktemp("evaluated"))
    proc = run_tool("train", "--iters", 4, "--save_interval", 2, "--log_iters", 1, "--do_eval", "--use_vdl",
                    "--save_best_metric", "dice_fg", "--keep_checkpoint_max", 0, "--seed", 3, "--save_dir", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out, proc.stdout


def test_train_and_eval_lines_go_to_stdout_and_train_log(evaluated_run):
    out, stdout = evaluated_run
    with open(os.path.join(out, "train.log")) as f:
        log = f.read()
    for text in (stdout, log):
        lines = TRAIN_LINE.findall(text)
        assert [(m[0], m[1], m[2]) for m in lines] == [("1", str(i), "4") for i in range(1, 5)]
        assert len(EVAL_LINE.findall(text)) == 2
        assert [m for m in VESSEL_LINE.findall(text)] == ["inside FOV", "whole image"] * 2
    assert train_losses(stdout) == train_losses(log)


def test_checkpoint_layout_and_best_model_by_chosen_metric(evaluated_run):
    out, stdout = evaluated_run
    for name in ("iter_2", "iter_4", "best_model"):
        assert sorted(os.listdir(os.path.join(out, name))) == ["model.pdopt", "model.pdparams", "model.pdstates"]
    assert os.path.isfile(os.path.join(out, "config.yml"))
    evals = {it: paddle.load(os.path.join(out, "iter_{}".format(it), "model.pdstates")) for it in (2, 4)}
    best_iter = 4 if evals[4]["dice_fg"] > evals[2]["dice_fg"] else 2
    best = paddle.load(os.path.join(out, "best_model", "model.pdstates"))
    assert (best["metric_name"], best["best_iter"], best["iter"]) == ("dice_fg", best_iter, best_iter)
    assert best["best_metric"] == evals[best_iter]["dice_fg"]
    assert evals[4]["best_iter"] == best_iter and evals[4]["seed"] == 3
    assert "[EVAL] The model with the best validation dice_fg ({:.4f}) was saved at iter {}.".format(
        best["best_metric"], best_iter) in stdout


def test_visualdl_scalars_and_panels(evaluated_run):
    from visualdl import LogReader
    out, _ = evaluated_run
    reader = LogReader(file_path=glob.glob(os.path.join(out, "vdlrecords.*.log"))[0])
    tags = reader.get_tags()
    expected = ["Train/loss", "Train/loss_0", "Train/loss_1", "Train/lr", "Train/batch_cost", "Train/reader_cost",
                "Evaluate/mIoU", "Evaluate/Acc", "Evaluate/Dice", "Evaluate/Kappa", "Evaluate/Auc_roc",
                "Evaluate/IoU_class_0", "Evaluate/IoU_class_1", "Evaluate/dice_fg", "Evaluate/sensitivity_fg",
                "Evaluate/specificity_fg", "Evaluate/auc_fg", "Evaluate/image_dice_fg", "Evaluate/mcc_fg",
                "Evaluate/ap_fg", "Evaluate/cldice_fg", "Evaluate/betti0_err_fg", "Evaluate/betti1_err_fg",
                "Evaluate/dice_ci_lo_fg", "Evaluate/dice_ci_hi_fg", "Evaluate/auc_ci_lo_fg", "Evaluate/image_mcc_fg"]
    assert set(expected) <= set(tags["scalar"])
    assert [r.id for r in reader.get_data("scalar", "Train/loss")] == [1, 2, 3, 4]
    assert [r.id for r in reader.get_data("scalar", "Evaluate/mIoU")] == [2, 4]
    states = paddle.load(os.path.join(out, "iter_4", "model.pdstates"))
    assert reader.get_data("scalar", "Evaluate/mIoU")[-1].value == pytest.approx(states["mIoU"], abs=1e-6)
    assert reader.get_data("scalar", "Evaluate/cldice_fg")[-1].value == pytest.approx(states["cldice_fg"], abs=1e-6)
    assert sorted(tags["image"]) == ["Evaluate/sample_0", "Evaluate/sample_1", "Evaluate/sample_2"]
    assert len(reader.get_data("image", "Evaluate/sample_0")) == 2


def test_nan_loss_stops_with_iteration_files_and_hint(tmp_path):
    proc = run_tool("train", "--iters", 8, "--save_interval", 1, "--log_iters", 1, "--learning_rate", 1e30,
                    "--seed", 1, "--save_dir", tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    match = re.match(r"error: (Loss|Weights) became .* at iter (\d+) \((batch: synthetic_train_\d{4}, "
                     r"synthetic_train_\d{4}|.+)\); stopped, nothing was saved .* lower learning_rate", proc.stderr)
    assert match, proc.stderr
    bad_iter = int(match.group(2))
    saved = sorted(int(d.split("_")[1]) for d in os.listdir(tmp_path) if d.startswith("iter_"))
    assert all(it < bad_iter for it in saved)


def test_fp16_on_cpu_is_a_clear_error(tmp_path):
    proc = run_tool("train", "--iters", 2, "--precision", "fp16", "--save_dir", tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == ("error: precision fp16 (AMP) needs a CUDA GPU, but training runs on cpu; use "
                           "precision fp32 on the CPU\n")


@pytest.mark.parametrize("metric, test_config, message", [
    ("miou", {}, "save_best_metric miou is not a metric; choose one of mIoU, Acc, Kappa, Dice, Auc_roc, dice_fg, "
                 "iou_fg, sensitivity_fg, specificity_fg, accuracy_fg, precision_fg, auc_fg, mcc_fg, ap_fg, cldice_fg"),
    ("betti0_err_fg", {}, "save_best_metric betti0_err_fg is reported but cannot pick the best model (lower is "
                          "better, or an interval bound); choose one of mIoU, Acc, Kappa, Dice, Auc_roc, dice_fg, "
                          "iou_fg, sensitivity_fg, specificity_fg, accuracy_fg, precision_fg, auc_fg, mcc_fg, ap_fg, "
                          "cldice_fg"),
    ("auc_fg", {"auc_roc": False}, "save_best_metric auc_fg needs AUC: set test_config.auc_roc: True in the config"),
    ("ap_fg", {}, "save_best_metric ap_fg needs AUC: set test_config.auc_roc: True in the config"),
    ("Auc_roc", {}, "save_best_metric Auc_roc needs AUC: set test_config.auc_roc: True in the config")])
def test_bad_save_best_metric(tmp_path, metric, test_config, message):
    model = ToyModel()
    optimizer = paddle.optimizer.SGD(learning_rate=0.1, parameters=model.parameters())
    with pytest.raises(UserError) as error:
        train(model=model, train_dataset=ToyData(), optimizer=optimizer, losses={"types": [mean_and_max], "coef": [1]},
              iters=2, batch_size=1, save_dir=str(tmp_path / "out"), save_best_metric=metric, test_config=test_config)
    assert str(error.value) == message
    assert not os.path.exists(tmp_path / "out")


def test_an_auc_metric_with_auc_roc_on_trains(tmp_path):
    toy_train(tmp_path, 1, save_best_metric="auc_fg", test_config={"auc_roc": True})
    assert paddle.load(str(tmp_path / "iter_1" / "model.pdstates"))["metric_name"] == "auc_fg"


@pytest.mark.parametrize("metric", ["mcc_fg", "cldice_fg"])
def test_mcc_or_cldice_may_pick_the_best_model(tmp_path, metric):
    toy_train(tmp_path, 1, save_best_metric=metric)
    assert paddle.load(str(tmp_path / "iter_1" / "model.pdstates"))["metric_name"] == metric


# ---- In-process runs of `train` on a toy problem whose every logged number is known by hand ----------------
# Sample i is an image filled with VALUES[i]; the toy model returns it unchanged (its one weight gets a zero
# gradient, so any learning rate leaves it at 1.0), and the toy loss returns the terms [mean, max] of the batch,
# scaled by coef 0.5. Seed 0, 4 samples, batch 2: epoch e visits RandomState((0, e)).permutation(4) in pairs:
# epoch 0: [0, 2, 3, 1], epoch 1: [1, 2, 0, 3], epoch 2: [3, 2, 0, 1]; iteration 1 sees (0, 2): mean 2.5, max 4,
# logged loss 0.5 * (2.5 + 4) = 3.25.
VALUES = [1.0, 2.0, 4.0, 16.0]
TOY_DIGEST = hashlib.sha256(b"w" + b"float32" + np.float32(1.0).tobytes()).hexdigest()[:16]  # checksum of w = 1


class ToyData:
    def __init__(self, values=VALUES, paths=True):
        self.values, self.paths = values, paths

    def __len__(self):
        return len(self.values)

    def __getitem__(self, i):
        item = {"img": np.full((1, 2, 2), self.values[i], np.float32), "label": np.zeros((2, 2), np.int32)}
        return dict(item, img_path="toy_{}".format(i)) if self.paths else item


class ToyModel(paddle.nn.Layer):
    """Returns the images (times its weight w when `learn`, else unchanged: w then gets a zero gradient)."""

    def __init__(self, learn=False, names=("w",)):
        super().__init__()
        self.learn = learn
        for name in names:
            setattr(self, name, self.create_parameter([1], default_initializer=paddle.nn.initializer.Constant(1.0)))

    def forward(self, x):
        return [x * self.w if self.learn else x + 0.0 * paddle.add_n(self.parameters())]


def mean_and_max(logits, labels):
    assert labels.dtype == paddle.int64  # as the real losses need
    return [logits.mean(), logits.max()]


def toy_train(save_dir, iters, lr=None, values=VALUES, model=None, paths=True, **kwargs):
    model = model or ToyModel()
    lr = lr if lr is not None else paddle.optimizer.lr.PiecewiseDecay([2, 4], [0.1, 0.01, 0.001])
    optimizer = paddle.optimizer.SGD(learning_rate=lr, parameters=model.parameters())
    losses = {"types": [mean_and_max], "coef": [0.5]}
    kwargs = dict(dict(batch_size=2, save_dir=str(save_dir), seed=0, keep_checkpoint_max=0), **kwargs)
    return model, train(model=model, train_dataset=ToyData(values, paths), optimizer=optimizer, losses=losses,
                        iters=iters, **kwargs)


class Log(logging.Handler):
    """The paddleseg_lite log messages (without the time prefix) of one test."""

    def __init__(self):
        super().__init__()
        self.messages, self.records = [], []

    def emit(self, record):
        self.messages.append(record.getMessage())
        self.records.append((record.levelno, record.getMessage()))

    def find(self, prefix):
        return [m for m in self.messages if m.startswith(prefix)]


@pytest.fixture
def log():
    handler = Log()
    logging.getLogger("paddleseg_lite").addHandler(handler)
    yield handler
    logging.getLogger("paddleseg_lite").removeHandler(handler)


@pytest.fixture
def clock(monkeypatch):
    """time.time() of the training loop: per iteration a reader cost, then a batch cost (seconds)."""
    def install(reader_costs, batch_costs):
        times, tic = [0.0], 0.0
        for r, b in zip(reader_costs, batch_costs):
            times += [tic + r, tic + b, tic + b]
            tic += b
        ticks = iter(times)
        monkeypatch.setattr(trainer_module, "time", types.SimpleNamespace(time=lambda: next(ticks)))
    return install


class Evaluations:
    """Stands for core.val.evaluate_metrics: returns the next scripted mIoU, records its arguments."""

    def __init__(self, mious):
        self.mious, self.calls = list(mious), []

    def __call__(self, model, dataset, options, **kwargs):
        self.calls.append((model, dataset, options, kwargs))
        miou = self.mious.pop(0)
        metrics = {"mIoU": miou, "Acc": 0.5, "class_iou": np.array([1.0, miou]), "class_precision": [0, 1],
                   "image_dice_fg": 0.25}
        return metrics, [np.full((2, 6, 3), len(self.calls), np.uint8)]


class Writer:
    """Stands for VisualWriter: records what training logs to VisualDL."""
    made = []

    def __init__(self, logdir):
        self.logdir, self.scalar_calls, self.images, self.closed = logdir, [], [], False
        Writer.made.append(self)

    def scalars(self, values, step, prefix):
        self.scalar_calls.append((prefix, step, values))

    def image(self, tag, img, step):
        self.images.append((tag, step, int(img[0, 0, 0])))

    def close(self):
        self.closed = True


def test_train_log_lines_literally(tmp_path, log, clock):
    clock([0.125, 0.25, 0.375, 0.25, 0.75], [1.0, 2.0, 3.0, 0.5, 1.5])
    toy_train(tmp_path, 5, log_iters=3, save_interval=100)
    assert log.find("[TRAIN]") == [
        "[TRAIN] epoch: 2, iter: 3/5, loss: 6.4167, lr: 0.010000, batch_cost: 2.0000, reader_cost: 0.25000, "
        "ips: 1.0000 samples/sec | ETA 00:00:04",
        "[TRAIN] epoch: 3, iter: 5/5, loss: 12.6250, lr: 0.001000, batch_cost: 1.0000, reader_cost: 0.50000, "
        "ips: 2.0000 samples/sec | ETA 00:00:00"]
    assert log.find("Start training") == ["Start training from iter 1 to 5 (data seed 0)"]
    assert log.find("Final weights") == ["Final weights checksum: {}".format(TOY_DIGEST)]
    assert sorted(os.listdir(tmp_path)) == ["iter_5"]  # the last iteration is always saved


def test_every_iteration_logged_with_its_own_loss_and_learning_rate(tmp_path, log):
    toy_train(tmp_path, 6, log_iters=1, save_interval=100)
    lines = [re.search(r"epoch: (\d), iter: (\d)/6, loss: ([\d.]+), lr: ([\d.]+)", m).groups()
             for m in log.find("[TRAIN]")]
    assert lines == [("1", "1", "3.2500", "0.100000"), ("1", "2", "12.5000", "0.100000"),
                     ("2", "3", "3.5000", "0.010000"), ("2", "4", "12.2500", "0.010000"),
                     ("3", "5", "13.0000", "0.001000"), ("3", "6", "1.7500", "0.001000")]


def test_reduce_on_plateau_steps_with_the_iteration_loss(tmp_path, log):
    """Losses 3.25, 12.5, 3.5, 12.25 (patience 0): no improvement on 3.25 halves the rate each time."""
    toy_train(tmp_path, 4, lr=paddle.optimizer.lr.ReduceOnPlateau(1.0, factor=0.5, patience=0), log_iters=1,
              save_interval=100)
    assert [re.search(r"lr: ([\d.]+)", m).group(1) for m in log.find("[TRAIN]")] == [
        "1.000000", "1.000000", "0.500000", "0.250000"]


def test_visualdl_scalars_and_evaluation_panels(tmp_path, monkeypatch, clock):
    clock([0.25] * 4, [1.0] * 4)
    monkeypatch.setattr(train_log_module, "VisualWriter", Writer)
    monkeypatch.setattr(trainer_module, "evaluate_metrics", Evaluations([0.5, 0.75]))
    Writer.made.clear()
    toy_train(tmp_path, 4, log_iters=2, save_interval=2, val_dataset="val-set", use_vdl=True)
    writer, = Writer.made
    assert writer.logdir == str(tmp_path) and writer.closed
    evaluate = {"mIoU": 0.75, "Acc": 0.5, "image_dice_fg": 0.25, "IoU_class_0": 1.0, "IoU_class_1": 0.75}
    assert writer.scalar_calls[-2:] == [
        ("Train", 4, {"loss": 7.875, "lr": 0.01, "batch_cost": 1.0, "reader_cost": 0.25, "loss_0": 2.875,
                      "loss_1": 5.0}),
        ("Evaluate", 4, evaluate)]
    assert writer.images == [("Evaluate/sample_0", 2, 1), ("Evaluate/sample_0", 4, 2)]
    assert dict(paddle.load(str(tmp_path / "iter_4" / "model.pdstates")), seed=None) == dict(
        evaluate, best_metric=0.75, best_iter=4, metric_name="mIoU", worse_count=0, iter=4, seed=None)


def test_without_visualdl_the_writer_is_disabled_and_one_loss_term_logs_no_loss_i(tmp_path, monkeypatch):
    monkeypatch.setattr(train_log_module, "VisualWriter", Writer)
    Writer.made.clear()
    model = ToyModel()
    optimizer = paddle.optimizer.SGD(learning_rate=0.1, parameters=model.parameters())
    train(model=model, train_dataset=ToyData(), optimizer=optimizer, losses={"types": [lambda x, y: x.mean()],
          "coef": [2.0]}, iters=2, batch_size=2, save_dir=str(tmp_path), log_iters=2, seed=0)
    writer, = Writer.made
    assert writer.logdir is None
    (prefix, step, scalars), = writer.scalar_calls
    assert (prefix, step, sorted(scalars)) == ("Train", 2, ["batch_cost", "loss", "lr", "reader_cost"])
    assert scalars["loss"] == 2.0 * (2.5 + 9.0) / 2


def test_checkpoints_best_model_pruning_and_early_stop(tmp_path, log, monkeypatch):
    """mIoU 0.5, 0.7, 0.7 (equal: not worse), 0.6, 0.65: the 2nd evaluation below the best stops at iter 5."""
    evaluations = Evaluations([0.5, 0.7, 0.7, 0.6, 0.65, 0.9])
    monkeypatch.setattr(trainer_module, "evaluate_metrics", evaluations)
    model, metrics = toy_train(tmp_path, 8, save_interval=1, log_iters=100, val_dataset="val-set",
                           keep_checkpoint_max=2, early_stop_intervals=2, num_workers=0,
                           test_config={"auc_roc": True})
    assert metrics["mIoU"] == 0.65 and len(evaluations.calls) == 5
    evaluated, dataset, options, kwargs = evaluations.calls[0]
    assert evaluated is model and dataset == "val-set" and kwargs == {"num_workers": 0, "num_vis": 3, "auc_roc": True}
    assert options == InferenceOptions.from_test_config({"auc_roc": True})
    assert sorted(os.listdir(tmp_path)) == ["best_model", "iter_4", "iter_5"]
    for name in ("best_model", "iter_4", "iter_5"):
        assert sorted(os.listdir(tmp_path / name)) == ["model.pdopt", "model.pdparams", "model.pdstates"]
    states = {name: paddle.load(str(tmp_path / name / "model.pdstates")) for name in ("best_model", "iter_5")}
    assert {k: states["best_model"][k] for k in ("iter", "best_iter", "best_metric", "worse_count", "mIoU")} == {
        "iter": 2, "best_iter": 2, "best_metric": 0.7, "worse_count": 0, "mIoU": 0.7}
    assert {k: states["iter_5"][k] for k in ("iter", "best_iter", "best_metric", "worse_count", "seed")} == {
        "iter": 5, "best_iter": 2, "best_metric": 0.7, "worse_count": 2, "seed": 0}
    assert paddle.load(str(tmp_path / "iter_5" / "model.pdparams"))["w"].numpy().tolist() == [1.0]
    assert log.find("Early stopping") == ["Early stopping at iter 5. The best mIoU is 0.7000."]
    assert log.find("[EVAL] The model") == ["[EVAL] The model with the best validation mIoU (0.5000) was saved at "
                                            "iter 1."] + ["[EVAL] The model with the best validation mIoU (0.7000) "
                                                          "was saved at iter 2."] * 4


def test_keep_checkpoint_max_zero_keeps_every_checkpoint(tmp_path):
    toy_train(tmp_path, 4, save_interval=1, log_iters=100, keep_checkpoint_max=0)
    assert sorted(os.listdir(tmp_path)) == ["iter_1", "iter_2", "iter_3", "iter_4"]
    toy_train(tmp_path / "three", 4, save_interval=1, log_iters=100, keep_checkpoint_max=3)
    assert sorted(os.listdir(tmp_path / "three")) == ["iter_2", "iter_3", "iter_4"]
    toy_train(tmp_path / "one", 4, save_interval=1, log_iters=100, keep_checkpoint_max=1)
    assert os.listdir(tmp_path / "one") == ["iter_4"]
    assert paddle.load(str(tmp_path / "one" / "iter_4" / "model.pdstates")) == {
        "best_metric": -1.0, "best_iter": -1, "metric_name": "mIoU", "worse_count": 0, "iter": 4, "seed": 0}


def test_resume_continues_data_order_learning_rate_and_best_metric(tmp_path, log, monkeypatch):
    monkeypatch.setattr(trainer_module, "evaluate_metrics", Evaluations([0.7, 0.5, 0.6]))
    toy_train(tmp_path, 4, save_interval=2, log_iters=100, val_dataset="val-set")
    log.messages.clear()
    (tmp_path / ".tmp-iter_6-0123abcd").mkdir()  # a killed writer's leftover: removed on start
    toy_train(tmp_path, 6, save_interval=2, log_iters=1, val_dataset="val-set", resume_model="auto", seed=99)
    assert log.find("Resume") == ["Resume model from {} at iter 4 (best mIoU 0.7000 at iter 2)".format(
        tmp_path / "iter_4")]
    assert log.find("Start training") == ["Start training from iter 5 to 6 (data seed 0)"]
    assert [re.search(r"iter: (\d)/6, loss: ([\d.]+), lr: ([\d.]+)", m).groups() for m in log.find("[TRAIN]")] == [
        ("5", "13.0000", "0.001000"), ("6", "1.7500", "0.001000")]
    final = paddle.load(str(tmp_path / "iter_6" / "model.pdstates"))
    assert (final["best_metric"], final["best_iter"], final["worse_count"], final["seed"]) == (0.7, 2, 2, 0)
    assert sorted(os.listdir(tmp_path)) == ["best_model", "iter_2", "iter_4", "iter_6"]


def test_resume_from_an_older_checkpoint_without_states_and_auto_without_checkpoint(tmp_path, log):
    toy_train(tmp_path, 4, save_interval=2, log_iters=100)
    os.remove(tmp_path / "iter_2" / "model.pdstates")  # as PaddleSeg checkpoints of other tools may be
    log.messages.clear()
    toy_train(tmp_path, 2, resume_model=str(tmp_path / "iter_2"))
    assert log.find("Resume") == ["Resume model from {} at iter 2 (best mIoU -1.0000 at iter -1)".format(
        tmp_path / "iter_2")]
    assert log.find("The checkpoint") == ["The checkpoint is at iter 2, iters is 2: nothing left to train"]
    assert log.find("[TRAIN]") == []
    toy_train(tmp_path / "new", 1, resume_model="auto", log_iters=100)
    assert log.find("--resume_model auto") == ["--resume_model auto: no checkpoint in {}, starting from "
                                              "scratch".format(tmp_path / "new")]
    assert os.listdir(tmp_path / "new") == ["iter_1"]


def test_nan_loss_stops_before_saving_and_names_the_batch(tmp_path):
    with pytest.raises(UserError) as error:
        toy_train(tmp_path, 4, values=[1.0, 2.0, 4.0, float("nan")], save_interval=1, log_iters=100)
    assert str(error.value) == ("Loss became [nan, nan] at iter 2 (batch: toy_3, toy_1); stopped, nothing was "
                                "saved from this state. " + NAN_HINT)
    assert os.listdir(tmp_path) == ["iter_1"]
    with pytest.raises(UserError, match=r"^Loss became \[nan, nan\] at iter 2 \(batch: unknown\); stopped"):
        toy_train(tmp_path / "no_paths", 4, values=[1.0, 2.0, 4.0, float("nan")], paths=False)


def test_nan_weights_stop_before_saving_and_name_three_of_them(tmp_path):
    with pytest.raises(UserError) as error:
        toy_train(tmp_path, 2, lr=float("inf"), save_interval=1, log_iters=100, model=ToyModel(names="wxyz"))
    assert str(error.value) == ("Weights became NaN/Inf at iter 1 (w, x, y); stopped, nothing was saved from this "
                                "state. " + NAN_HINT)
    assert os.listdir(tmp_path) == []


def test_fp16_on_cpu_and_too_small_dataset_are_user_errors(tmp_path):
    with pytest.raises(UserError, match=r"^precision fp16 \(AMP\) needs a CUDA GPU, but training runs on cpu"):
        toy_train(tmp_path, 2, precision="fp16")
    with pytest.raises(UserError) as error:
        toy_train(tmp_path, 2, values=[1.0, 2.0, 3.0], batch_size=4)
    assert str(error.value) == ("train_dataset has 3 samples, fewer than batch_size 4 x 1 process(es); lower "
                                "batch_size")


def test_weights_follow_sgd_on_the_sum_of_the_loss_terms(tmp_path):
    """The model scales the images by w: d(loss)/dw = 0.5 * (mean + max) of the batch, the same for every w.
    Iteration 1: (0, 2) gives 0.5 * (2.5 + 4) = 3.25; iteration 2: (3, 1) gives 0.5 * (9 + 16) = 12.5."""
    model, _ = toy_train(tmp_path, 2, lr=0.1, model=ToyModel(learn=True), save_interval=100, log_iters=100)
    np.testing.assert_allclose(model.w.numpy(), [1.0 - 0.1 * 3.25 - 0.1 * 12.5], rtol=1e-6)
    saved = paddle.load(str(tmp_path / "iter_2" / "model.pdparams"))["w"].numpy()
    np.testing.assert_array_equal(saved, model.w.numpy())


def test_worker_processes_give_the_same_losses_and_evaluate_with_one(tmp_path, log, monkeypatch):
    evaluations = Evaluations([0.5])
    monkeypatch.setattr(trainer_module, "evaluate_metrics", evaluations)
    toy_train(tmp_path, 3, log_iters=1, save_interval=3, val_dataset="val-set", num_workers=2)
    assert [re.search(r"loss: ([\d.]+)", m).group(1) for m in log.find("[TRAIN]")] == ["3.2500", "12.5000", "3.5000"]
    assert evaluations.calls[0][3]["num_workers"] == 1


class Static:
    """Stands for the StaticTrainer: records its build, steps (images seen) and syncs."""
    precision = "fp32"

    def __init__(self):
        self.images, self.syncs, self.shapes, self.synced_from = [], [], None, 0

    def build(self, img_shape, label_shape, img_dtype="float32"):
        self.shapes = (tuple(img_shape), tuple(label_shape))
        self.sync_from(None, None)

    def sync_from(self, model, optimizer):
        self.synced_from += 1

    def step(self, img, label, it):
        self.images.append(img.numpy()[:, 0, 0, 0].tolist())
        return [float(img.numpy().mean()), float(label.numpy().sum())]

    def sync_to(self, model, optimizer):
        self.syncs.append((model, optimizer))


def test_static_training_steps_through_the_static_trainer_and_syncs_at_save_points(tmp_path, log, monkeypatch):
    static, made, traced = Static(), [], []

    class RecordingStaticStep(StaticStep):
        @classmethod
        def create(cls, model, loss_set, optimizer, precision, batch_shapes, ema=None):
            made.append((model, loss_set.coef, optimizer, precision, batch_shapes))
            return super().create(model, loss_set, optimizer, precision, batch_shapes)

    monkeypatch.setattr(steps_module, "StaticStep", RecordingStaticStep)
    monkeypatch.setattr(static_step_module, "StaticTrainer",
                        lambda model, loss_set, optimizer, precision, ema: traced.append((model, optimizer)) or static)
    model, _ = toy_train(tmp_path, 3, save_interval=2, log_iters=1, to_static_training=True, precision="fp32")
    (made_model, coef, optimizer, precision, shapes), = made
    assert (made_model, coef, precision, shapes) == (model, [0.5], "fp32", ((2, 1, 2, 2), (2, 2, 2)))
    assert traced == [(model, optimizer)] and static.shapes == shapes  # built before the first step
    assert static.synced_from == 2  # after the build, after restoring (nothing to restore here)
    assert static.images == [[1.0, 4.0], [16.0, 2.0], [2.0, 4.0]]
    assert [re.search(r"loss: ([\d.]+)", m).group(1) for m in log.find("[TRAIN]")] == ["2.5000", "9.0000", "3.0000"]
    assert static.syncs == [(model, optimizer)] * 3  # iter 2, iter 3, the end
    with pytest.raises(UserError, match=r"^Loss became \[nan, 0.0\] at iter 2 \(batch: toy_3, toy_1\)"):
        toy_train(tmp_path / "nan", 3, values=[1.0, 2.0, 4.0, float("nan")], to_static_training=True,
                  precision="fp32")


def rank_1_of_2_trainer(tmp_path, monkeypatch, batch_size, iters):
    monkeypatch.setattr(paddle.distributed, "get_rank", lambda: 1)
    monkeypatch.setattr(paddle.distributed, "get_world_size", lambda: 2)
    model = ToyModel()
    optimizer = paddle.optimizer.SGD(learning_rate=0.1, parameters=model.parameters())
    return Trainer(model, ToyData(), optimizer, {"types": [mean_and_max], "coef": [0.5]},
                   TrainSettings(iters=iters, batch_size=batch_size, seed=0), save_dir=str(tmp_path))


def test_each_rank_samples_its_shard(tmp_path, monkeypatch):
    trainer = rank_1_of_2_trainer(tmp_path, monkeypatch, 1, 3)
    assert (trainer.rank, trainer.world_size, trainer.checkpoints.rank) == (1, 2, 1)  # rank 1 writes nothing
    assert Trainer(trainer.model, ToyData(), trainer.optimizer, trainer.loss_set, trainer.settings).save_dir == "output"
    sampler = trainer._sampler(0, 1)
    assert list(sampler) == [[(0, 1)], [(1, 2)]]  # epoch orders [0, 2, 3, 1], [1, 2, 0, 3]: rank 1 takes 2, 1 | 2, 3
    with pytest.raises(UserError) as error:
        rank_1_of_2_trainer(tmp_path, monkeypatch, 4, 3)._sampler(0, 0)
    assert str(error.value) == "train_dataset has 4 samples, fewer than batch_size 4 x 2 process(es); lower batch_size"


def test_defaults_log_every_10_iterations_and_save_at_the_end(tmp_path, log):
    model = ToyModel()
    optimizer = paddle.optimizer.SGD(learning_rate=0.1, parameters=model.parameters())
    train(model=model, train_dataset=ToyData(), optimizer=optimizer, losses={"types": [mean_and_max], "coef": [0.5]},
          iters=12, batch_size=2, save_dir=str(tmp_path), seed=0)
    assert [re.search(r"iter: (\d+)/12", m).group(1) for m in log.find("[TRAIN]")] == ["10", "12"]
    assert os.listdir(tmp_path) == ["iter_12"]


def test_the_seed_orders_the_data_and_a_missing_one_is_drawn_and_saved(tmp_path, log):
    """Seed 1: epoch 0 is RandomState((1, 0)).permutation(4) = [0, 3, 2, 1]: (0, 3) gives 0.5 * (8.5 + 16)."""
    toy_train(tmp_path / "one", 2, seed=1, log_iters=1)
    assert [re.search(r"loss: ([\d.]+)", m).group(1) for m in log.find("[TRAIN]")] == ["12.2500", "3.5000"]
    toy_train(tmp_path / "drawn", 1, seed=None)
    seed = paddle.load(str(tmp_path / "drawn" / "iter_1" / "model.pdstates"))["seed"]
    assert isinstance(seed, int) and 0 <= seed < 2 ** 31
    assert log.find("Start training")[-1] == "Start training from iter 1 to 1 (data seed {})".format(seed)


def test_the_resume_line_names_the_checkpoints_metric(tmp_path, log):
    toy_train(tmp_path, 2, save_best_metric="Acc")
    toy_train(tmp_path, 2, resume_model="auto")
    assert log.find("Resume") == ["Resume model from {} at iter 2 (best Acc -1.0000 at iter -1)".format(
        tmp_path / "iter_2")]


@pytest.mark.parametrize("kwargs, message", [
    ({"optimizer": None}, "train() needs an optimizer and losses ({'types': [...], 'coef': [...]})"),
    ({"losses": None}, "train() needs an optimizer and losses ({'types': [...], 'coef': [...]})"),
    ({"profiler_options": "batch_range=[2,1]"}, "--profiler_options 'batch_range=[2,1]': batch_range must be "
     "[start, end] with 0 <= start < end, got [2,1]; e.g. \"batch_range=[10,20];timer_only=False\""),
    ({"profiler_options": "batch_rang=[1,2]"}, "--profiler_options 'batch_rang=[1,2]': unknown key 'batch_rang'. "
     "Did you mean 'batch_range'? Keys: batch_range, state, sorted_key, tracer_option, profile_path, "
     "exit_on_finished, timer_only; e.g. \"batch_range=[10,20];timer_only=False\"")])
def test_train_refuses_a_missing_optimizer_or_losses_and_bad_profiler_options(tmp_path, kwargs, message):
    model = ToyModel()
    arguments = dict(model=model, train_dataset=ToyData(), losses={"types": [mean_and_max], "coef": [0.5]},
                     optimizer=paddle.optimizer.SGD(learning_rate=0.1, parameters=model.parameters()),
                     iters=1, save_dir=str(tmp_path / "out"))
    with pytest.raises(UserError) as error:
        train(**dict(arguments, **kwargs))
    assert str(error.value) == message
    assert not os.path.exists(tmp_path / "out")


class RecordingTrainer:
    """Stands for the Trainer behind train(): records what it is given."""
    made = []

    def __init__(self, *args, **kwargs):
        RecordingTrainer.made.append((args, kwargs))

    def train(self, resume_model, profiler_options):
        return {"resumed from": resume_model, "profiler": profiler_options}


def test_train_hands_its_arguments_to_train_settings_and_a_trainer(monkeypatch):
    monkeypatch.setattr(train_module, "Trainer", RecordingTrainer)
    RecordingTrainer.made.clear()
    losses = {"types": [mean_and_max], "coef": [0.5]}
    assert train("model", "train-set", optimizer="opt", losses=losses) == {"resumed from": None, "profiler": None}
    assert train("model", "train-set", "val-set", "opt", "out", 7, 3, 2, "out/iter_2", 5, 4, 1, True, True, losses,
                 0, {"auc_roc": True}, "fp16", "O2", "batch_range=[1,2]", True, 11, "Dice") == {
                     "resumed from": "out/iter_2", "profiler": "batch_range=[1,2]"}
    (args, kwargs), (args2, kwargs2) = RecordingTrainer.made
    assert args == ("model", "train-set", "opt", losses, TrainSettings(
        iters=10000, batch_size=2, save_interval=1000, log_iters=10, seed=None, save_best_metric="mIoU",
        keep_checkpoint_max=5, early_stop_intervals=None, precision="auto", amp_level="O1", to_static_training="auto",
        num_workers=0, do_eval=False, use_vdl=False))
    assert kwargs == {"val_dataset": None, "save_dir": "output", "test_config": None}
    assert args2 == ("model", "train-set", "opt", losses, TrainSettings(
        iters=7, batch_size=3, save_interval=5, log_iters=4, seed=11, save_best_metric="Dice", keep_checkpoint_max=0,
        early_stop_intervals=2, precision="fp16", amp_level="O2", to_static_training=True, num_workers=1,
        do_eval=True, use_vdl=True, use_ema=True))
    assert kwargs2 == {"val_dataset": "val-set", "save_dir": "out", "test_config": {"auc_roc": True}}


class ScaledStep(steps_module.DygraphStep):
    """A dygraph step with step state (as AmpStep's loss scaler) that records what it is restored from."""
    restored = []

    def state_dict(self):
        return {"scaler": {"scale": 8.0}}

    def set_state_dict(self, states):
        ScaledStep.restored.append(dict(states))


def test_step_state_goes_into_the_checkpoint_and_back_and_buffers_are_averaged_at_save_points(tmp_path, monkeypatch):
    averaged = []
    monkeypatch.setattr(trainer_module, "make_step", lambda settings, net, model, loss_set, optimizer, world_size,
                        shapes, ema:
                        ScaledStep(net, loss_set, optimizer))
    monkeypatch.setattr(trainer_module, "average_buffers", lambda model, world_size: averaged.append((model,
                                                                                                        world_size)))
    ScaledStep.restored.clear()
    model, _ = toy_train(tmp_path, 2, save_interval=1, log_iters=100)
    assert averaged == [(model, 1), (model, 1)]
    assert paddle.load(str(tmp_path / "iter_2" / "model.pdstates"))["scaler"] == {"scale": 8.0}
    toy_train(tmp_path, 3, log_iters=100, resume_model="auto")
    assert ScaledStep.restored == [{}, dict(paddle.load(str(tmp_path / "iter_2" / "model.pdstates")))]


def draws():
    return float(paddle.rand([])), float(np.random.rand()), random.random()


def test_seed_everything_seeds_paddle_numpy_and_random():
    seed_everything(3)
    first = draws()
    seed_everything(3)
    assert draws() == first
    seed_everything(4)
    assert all(a != b for a, b in zip(draws(), first))


@pytest.mark.parametrize("do_eval", [False, True])
def test_from_config_builds_the_run_from_the_config_and_seeds_it(tmp_path, do_eval):
    def trainer(seed):
        cfg = Config(CONFIG, opts=list(TINY) + ["seed={}".format(seed), "do_eval={}".format(do_eval),
                                                "test_config.auc_roc=True"])
        return cfg, Trainer.from_config(cfg, str(tmp_path))

    cfg, built = trainer(5)
    assert (built.model, built.train_dataset, built.optimizer) == (cfg.model, cfg.train_dataset, cfg.optimizer)
    assert built.loss_set.coef == cfg.loss["coef"] and built.loss_set.losses == cfg.loss["types"]
    assert built.val_dataset is (cfg.val_dataset if do_eval else None)
    assert (built.settings, built.settings.seed, built.save_dir) == (cfg.train_settings, 5, str(tmp_path))
    assert built.test_config == cfg.test_config and built.test_config["auc_roc"] is True
    assert Trainer.from_config(cfg).save_dir == "output"  # PaddleSeg's default
    weights = {k: v.numpy() for k, v in built.model.state_dict().items()}
    again = trainer(5)[1].model.state_dict()
    other = trainer(6)[1].model.state_dict()
    assert all(np.array_equal(again[k].numpy(), v) for k, v in weights.items())
    assert not all(np.array_equal(other[k].numpy(), v) for k, v in weights.items())


def test_use_ema_evaluates_logs_and_saves_the_ema_after_the_model(tmp_path, log, monkeypatch):
    """Model mIoU 0.5 then 0.4, EMA 0.6 then 0.7 (scripted): the EMA is evaluated second at each save point."""
    evaluations = Evaluations([0.5, 0.6, 0.4, 0.7])
    monkeypatch.setattr(trainer_module, "evaluate_metrics", evaluations)
    monkeypatch.setattr(train_log_module, "VisualWriter", Writer)
    Writer.made.clear()
    model, _ = toy_train(tmp_path, 4, model=ToyModel(learn=True), use_ema=True, save_interval=2, log_iters=100,
                         val_dataset="val-set", use_vdl=True)
    evaluated = [call[0] for call in evaluations.calls]
    assert evaluated[0] is model and evaluated[1] is not model and evaluated[1].training is False
    assert log.find("[EVAL] The EMA model") == [
        "[EVAL] The EMA model with the best validation mIoU (0.6000) was saved at iter 2.",
        "[EVAL] The EMA model with the best validation mIoU (0.7000) was saved at iter 4."]
    assert log.find("[EVAL] Evaluating the EMA model") == ["[EVAL] Evaluating the EMA model (use_ema) at iter 2",
                                                           "[EVAL] Evaluating the EMA model (use_ema) at iter 4"]
    ema_scalars = [(step, values["Ema_mIoU"], values["Ema_Acc"]) for prefix, step, values in Writer.made[0].scalar_calls
                   if "Ema_mIoU" in values]
    assert ema_scalars == [(2, 0.6, 0.5), (4, 0.7, 0.5)]
    assert sorted(os.listdir(tmp_path / "iter_4")) == ["ema_model.pdparams", "ema_model.pdstates", "model.pdopt",
                                                       "model.pdparams", "model.pdstates"]
    assert paddle.load(str(tmp_path / "ema_best_model" / "ema_model.pdstates"))["iter"] == 4
    assert paddle.load(str(tmp_path / "iter_4" / "ema_model.pdparams"))["w"].numpy()[0] != model.w.numpy()[0]


@pytest.mark.parametrize("options, iters", [("batch_range=[1,2]", [1, 2, 3]),
                                            ("batch_range=[1,2];exit_on_finished=False", [1, 2, 3, 4, 5])])
def test_profiler_options_profile_a_range_and_stop_the_run_as_paddleseg(tmp_path, log, options, iters):
    """PaddleSeg stops at its profiler call number batch_range[1] (0-based): after iteration end + 1."""
    toy_train(tmp_path, 5, log_iters=1, profiler_options=options)
    assert [int(re.search(r"iter: (\d+)/5", m).group(1)) for m in log.find("[TRAIN]")] == iters
    assert bool(log.find("Profiler: iterations 2-2 profiled; stopping the run")) == (iters == [1, 2, 3])


def test_repeats_multiplies_the_train_samples_per_epoch(tmp_path, log):
    """4 samples x 3 repeats, batch 2: 6 iterations per epoch (PaddleSeg's file_list * repeats)."""
    settings = TrainSettings(iters=7, batch_size=2, repeats=3, seed=0)
    trainer = Trainer(ToyModel(), ToyData(), paddle.optimizer.SGD(0.1, parameters=ToyModel().parameters()),
                      {"types": [mean_and_max], "coef": [0.5]}, settings, save_dir=str(tmp_path))
    assert len(trainer.train_dataset) == 12 and trainer._sampler(0, 0).iters_per_epoch == 6
    assert [trainer.train_dataset[i]["img_path"] for i in (0, 5, 11)] == ["toy_0", "toy_1", "toy_3"]
