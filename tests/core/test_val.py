"""tools/val.py in-process: [EVAL] lines, --auc_roc, sliding window, flips, per-image CSV, PaddleSeg
checkpoints, and one-line errors for bad weights files."""
import logging
import pickle
import re

import numpy as np
import paddle
import pytest

from paddleseg_lite.core import inference_options
from paddleseg_lite import cli
from tool_runner import CONFIG, TINY, load_tool, save_tiny_weights

VAL = load_tool("val")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "model.pdparams"
    save_tiny_weights(path)
    return path


@pytest.fixture
def log_lines():
    """The messages logged by paddleseg_lite during the test."""
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("paddleseg_lite")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def run_val(model_path, *args, opts=()):
    VAL.main(["--config", CONFIG, "--device", "cpu", "--model_path", str(model_path), *map(str, args),
              "--opts", *TINY, *opts])


def eval_line(lines):
    return next(line for line in lines if line.startswith("[EVAL] #Images"))


def test_eval_lines_and_per_image_csv(weights, tmp_path, log_lines):
    run_val(weights, "--save_dir", tmp_path)
    assert re.fullmatch(r"\[EVAL\] #Images: 4 mIoU: \d\.\d{4} Acc: \d\.\d{4} Kappa: -?\d\.\d{4} Dice: \d\.\d{4} "
                        r"Auc_roc: \d\.\d{4}", eval_line(log_lines))
    assert any(re.fullmatch(r"\[EVAL\] Class IoU: \n\[\d\.\d+ +\d\.\d+\]", line) for line in log_lines)
    assert [line.split(":")[0] for line in log_lines if "Vessel" in line] == [
        "[EVAL] Vessel (inside FOV)", "[EVAL] Vessel (whole image)"]
    rows = (tmp_path / "per_image_metrics.csv").read_text().splitlines()
    assert rows[0].startswith("name,") and [r.split(",")[0] for r in rows[1:]] == [
        "synthetic_val_{:04d}".format(i) for i in range(4)]


def test_auc_roc_from_flag_or_config(weights, log_lines):
    run_val(weights, opts=["test_config.auc_roc=False"])
    run_val(weights, "--auc_roc", opts=["test_config.auc_roc=False"])
    run_val(weights)
    lines = [line for line in log_lines if line.startswith("[EVAL] #Images")]
    assert ["Auc_roc" in line for line in lines] == [False, True, True]


def test_slide_and_flip_flags_reach_inference(weights, log_lines, monkeypatch):
    calls = []

    def spy(name):
        real = getattr(inference_options, name)
        monkeypatch.setattr(inference_options, name, lambda *a, **k: calls.append((name, k)) or real(*a, **k))

    spy("inference")
    spy("aug_inference")
    run_val(weights, "--is_slide", "--crop_size", 16, 16, "--stride", 8, 8)
    run_val(weights, "--aug_eval", "--flip_horizontal")
    assert len(calls) == 8 and len([line for line in log_lines if line.startswith("[EVAL] #Images")]) == 2
    name, kwargs = calls[0]
    assert (name, kwargs["is_slide"], kwargs["crop_size"], kwargs["stride"]) == ("inference", True, [16, 16], [8, 8])
    name, kwargs = calls[4]
    assert (name, kwargs["flip_horizontal"], kwargs["flip_vertical"]) == ("aug_inference", True, False)


def test_paddleseg_checkpoint_evaluates_without_conversion(weights, tmp_path, log_lines):
    """PaddleSeg's .pdparams: a protocol-4 pickle of numpy arrays plus the structured-name table."""
    state = {k: np.asarray(v.numpy()) for k, v in paddle.load(str(weights)).items() if hasattr(v, "shape")}
    state["StructuredToParameterName@@"] = {k: "param_{}".format(i) for i, k in enumerate(state)}
    with open(tmp_path / "paddleseg.pdparams", "wb") as f:
        pickle.dump(state, f, protocol=4)
    run_val(weights)
    run_val(tmp_path / "paddleseg.pdparams")
    lines = [line for line in log_lines if line.startswith("[EVAL] #Images")]
    assert lines[0] == lines[1]
    assert "There are {0}/{0} variables loaded into UNet.".format(len(paddle.load(str(weights)))) in log_lines


@pytest.mark.parametrize("weights_file, args, message", [
    (b"not a pickle", [], "is not a valid .pdparams weights file"),
    (None, [], "Model weights not found"),
    ("valid", ["--is_slide"], "--is_slide needs --crop_size W H and --stride W H")])
def test_bad_weights_or_flags_are_one_line_errors(tmp_path, capsys, weights, weights_file, args, message):
    path = weights if weights_file == "valid" else tmp_path / "model.pdparams"
    if isinstance(weights_file, bytes):
        path.write_bytes(weights_file)
    with pytest.raises(SystemExit) as exit_info:
        cli.run(lambda: run_val(path, *args))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_inference_engine_gives_the_dygraph_metrics(weights, log_lines, tmp_path):
    run_val(weights, "--engine", "dygraph", "--auc_roc", "--save_dir", tmp_path / "dy")
    run_val(weights, "--engine", "inference", "--precision", "fp32", "--auc_roc", "--save_dir", tmp_path / "pi")
    lines = [line for line in log_lines if line.startswith("[EVAL] #Images")]
    assert len(lines) == 2 and lines[0] == lines[1]
    assert any(line.startswith("Predictor: ") and "fp32, oneDNN" in line for line in log_lines)
    csv = [(tmp_path / d / "per_image_metrics.csv").read_text().splitlines() for d in ("dy", "pi")]
    dice = [[row.split(",")[1:7] for row in rows[1:]] for rows in csv]
    assert dice[0] == dice[1]
