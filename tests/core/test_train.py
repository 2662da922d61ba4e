"""tools/train.py end to end on tiny data: logs, checkpoint layout, best model, VisualDL, NaN, AMP."""
import glob
import os
import re

import paddle
import pytest

from paddleseg_lite.core import Trainer
from paddleseg_lite.cvlibs.run_settings import TrainSettings
from paddleseg_lite.utils.errors import UserError
from tool_runner import TRAIN_LINE, run_tool, train_losses

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
                "Evaluate/specificity_fg", "Evaluate/auc_fg", "Evaluate/image_dice_fg"]
    assert set(expected) <= set(tags["scalar"])
    assert [r.id for r in reader.get_data("scalar", "Train/loss")] == [1, 2, 3, 4]
    assert [r.id for r in reader.get_data("scalar", "Evaluate/mIoU")] == [2, 4]
    miou = paddle.load(os.path.join(out, "iter_4", "model.pdstates"))["mIoU"]
    assert reader.get_data("scalar", "Evaluate/mIoU")[-1].value == pytest.approx(miou, abs=1e-6)
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
    ("miou", {}, "save_best_metric miou is not a metric; choose one of mIoU, Acc"),
    ("auc_fg", {"auc_roc": False}, "save_best_metric auc_fg needs AUC: set test_config.auc_roc: True")])
def test_bad_save_best_metric(metric, test_config, message):
    settings = TrainSettings(iters=2, batch_size=1, save_best_metric=metric)
    with pytest.raises(UserError, match=re.escape(message)):
        Trainer(None, None, None, {"types": [], "coef": []}, settings, test_config=test_config)
