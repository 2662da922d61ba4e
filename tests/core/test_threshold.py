"""The decision threshold end to end, as a user runs the tools: `val --threshold auto` tunes and stores it,
val / predict / export + deploy infer then use it (pixels = probability >= threshold, not argmax, inside
the field of view; background outside it), and every bad request is one error line."""
import contextlib
import io
import re

import cv2
import numpy as np
import paddle
import pytest
import yaml
from PIL import Image

from fault_check import assert_one_error, leftover_temps, run_tool_args
from tool_runner import CONFIG, TINY, load_tool, save_tiny_weights
from paddleseg_lite.utils.errors import UserError

FLOAT = r"(\d+\.\d{4})"


def _infer_module():
    return load_tool("infer")


def _fg_prob(model, image_path):
    """Foreground probability of the tiny 2-class model on an image (Normalize as the config), in float64."""
    img = cv2.imread(str(image_path))[:, :, ::-1].astype(np.float32)
    x = ((img / 255 - 0.5) / 0.5).transpose(2, 0, 1)[None]
    model.eval()
    z = model(paddle.to_tensor(x))[0].numpy()[0].astype(np.float64)
    return 1 / (1 + np.exp(z[0] - z[1])), z[1] > z[0]


def _pred(path):
    return np.array(Image.open(path))


def _write_eye(path):
    """A fundus-like picture: noise (60-254) in a rectangle on a black surround. Returns that rectangle, the
    field of view `--fov auto` (the quickstart config's default) finds exactly: a 3x3 opening keeps it whole."""
    image, inside = np.zeros((40, 48, 3), np.uint8), np.zeros((40, 48), bool)
    image[4:36, 5:43] = np.random.default_rng(0).integers(60, 255, (32, 38, 3))
    inside[4:36, 5:43] = True
    cv2.imwrite(str(path), image)
    return inside


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """Tiny random weights, `val --threshold auto` on them: (tmp dir, weights path, model, val stdout)."""
    tmp = tmp_path_factory.mktemp("threshold")
    weights = tmp / "model.pdparams"
    model = save_tiny_weights(weights)
    out = _run("val", ["--model_path", str(weights), "--threshold", "auto"])
    return tmp, weights, model, out


def _run(tool, argv, module=None):
    """Run a tool's main in-process; returns what it logged."""
    buffer = io.StringIO()
    common = [] if module else ["--config", CONFIG, "--device", "cpu", "--engine", "dygraph"]
    with contextlib.redirect_stdout(buffer):
        (module or load_tool(tool)).main(common + list(argv) + ([] if module else ["--opts", *TINY]))
    return buffer.getvalue()


def test_val_auto_reports_both_f1_and_stores_the_threshold(tuned):
    tmp, weights, _, out = tuned
    argmax_f1 = float(re.search(r"\[EVAL\] Vessel \(inside FOV\): Dice/F1: " + FLOAT, out).group(1))
    line = re.search(r"\[EVAL\] Threshold \(inside FOV\): tuned " + FLOAT + " Dice/F1: " + FLOAT +
                     r" .*\| at argmax Dice/F1: " + FLOAT + "$", out, re.M)
    assert line, out[-2000:]
    threshold, tuned_f1 = float(line.group(1)), float(line.group(2))
    assert float(line.group(3)) == argmax_f1 and tuned_f1 >= argmax_f1
    assert out.index("[EVAL] Threshold") > out.index("[EVAL] Vessel (whole image)")  # after the existing lines
    assert "Decision threshold: auto (--threshold auto" in out and "Auc_roc:" in out  # AUC turned on for it
    states = paddle.load(str(tmp / "model.pdstates"))
    assert round(states["threshold"], 4) == threshold and not leftover_temps(str(tmp))
    # val again, without the flag: the stored threshold, whose F1 is the tuned F1 exactly (2^16 bins)
    again = _run("val", ["--model_path", str(weights)])
    assert "Decision threshold: {:.4f} (stored in {})".format(states["threshold"], tmp / "model.pdstates") in again
    assert "[EVAL] Vessel (inside FOV): Dice/F1: {:.4f}".format(tuned_f1) in again


def test_predict_uses_the_stored_threshold_and_the_flag_overrides_it(tuned):
    tmp, weights, model, _ = tuned
    t = paddle.load(str(tmp / "model.pdstates"))["threshold"]
    image = tmp / "eye.png"
    inside = _write_eye(image)
    prob, argmax = _fg_prob(model, image)
    out = _run("predict", ["--model_path", str(weights), "--image_path", str(image), "--save_dir", str(tmp / "p")])
    assert "Decision threshold: {:.4f} (stored in".format(t) in out
    pred = _pred(tmp / "p" / "pseudo_color_prediction" / "eye.png")
    # vessel where the probability is >= t inside the field of view, background outside it
    assert np.array_equal(pred, (prob >= t) & inside) and not np.array_equal(pred, argmax & inside)
    out = _run("predict", ["--model_path", str(weights), "--image_path", str(image), "--save_dir", str(tmp / "q"),
                           "--threshold", "0.45"])
    assert "Decision threshold: 0.4500 (--threshold)" in out
    assert np.array_equal(_pred(tmp / "q" / "pseudo_color_prediction" / "eye.png"), (prob >= 0.45) & inside)


def test_changed_weights_ignore_the_stored_threshold(tuned, tmp_path):
    tmp, _, _, _ = tuned
    weights = tmp_path / "model.pdparams"
    save_tiny_weights(weights, seed=1)
    (tmp_path / "model.pdstates").write_bytes((tmp / "model.pdstates").read_bytes())
    out = _run("predict", ["--model_path", str(weights), "--image_path", str(tmp / "eye.png"),
                           "--save_dir", str(tmp_path / "p")])
    assert "was tuned for other weights" in out and "Decision threshold: argmax (no --threshold given" in out


@pytest.mark.parametrize("output_op", ["argmax", "softmax"])
def test_export_writes_it_and_deploy_infer_uses_it(tuned, output_op):
    tmp, weights, model, _ = tuned
    t = paddle.load(str(tmp / "model.pdstates"))["threshold"]
    export_dir = tmp / ("export_" + output_op)
    load_tool("export").main(["--config", CONFIG, "--model_path", str(weights), "--save_dir", str(export_dir),
                              "--output_op", output_op, "--opts", *TINY])
    deploy = yaml.safe_load((export_dir / "deploy.yaml").read_text())["Deploy"]
    assert deploy["threshold"] == t and deploy["fov"] == "auto"
    inside = _write_eye(tmp / "eye.png")
    prob, _ = _fg_prob(model, tmp / "eye.png")
    infer = _infer_module()
    common = ["--config", str(export_dir / "deploy.yaml"), "--image_path", str(tmp / "eye.png"), "--device", "cpu",
              "--precision", "fp32"]
    out = _run(None, common + ["--save_dir", str(tmp / ("infer_" + output_op))], module=infer)
    assert "Decision threshold: {:.4f} (deploy.yaml)".format(t) in out
    assert np.array_equal(_pred(tmp / ("infer_" + output_op) / "eye.png"), (prob >= t) & inside)
    if output_op == "softmax":  # probabilities out: the flag chooses another threshold
        _run(None, common + ["--save_dir", str(tmp / "infer_flag"), "--threshold", "0.45"], module=infer)
        assert np.array_equal(_pred(tmp / "infer_flag" / "eye.png"), (prob >= 0.45) & inside)
    else:  # class ids out, thresholded in the graph: another threshold cannot be applied
        with pytest.raises(UserError, match=r"--threshold 0.45: .* outputs class ids .*tools/export.py --threshold"):
            infer.main(common + ["--threshold", "0.45"])


@pytest.mark.parametrize("tool, value, message", [
    ("val", "-0.1", "--threshold must be 'auto' or a number in [0, 1]"),
    ("val", "1.5", "got '1.5'"),
    ("val", "abc", "got 'abc'"),
    ("predict", "auto", "tuned by tools/val.py --threshold auto"),
    ("export", "2", "--threshold must be a number in [0, 1]"),
])
def test_bad_values_are_refused_first(tool, value, message):
    argv = ["--config", "missing.yml", "--model_path", "missing", "--threshold", value]
    with pytest.raises(UserError) as error:  # before the config is read
        load_tool(tool).main(argv + (["--image_path", "missing.png"] if tool == "predict" else []))
    assert message in str(error.value)


def test_a_three_class_model_is_one_error_line(tmp_path):
    config = tmp_path / "three.yml"
    config.write_text("_base_: {}\nmodel: {{type: UNet, num_classes: 3, base_channels: 4}}\n".format(CONFIG) +
                      "train_dataset: {_delete_: true, type: Dataset, dataset_root: ., train_path: t.txt, "
                      "num_classes: 3, transforms: [{type: Normalize}]}\n"
                      "val_dataset: {_delete_: true, type: Dataset, dataset_root: ., val_path: v.txt, "
                      "num_classes: 3, mode: val, transforms: [{type: Normalize}]}\n")
    cv2.imwrite(str(tmp_path / "eye.png"), np.zeros((32, 32, 3), np.uint8))
    result = run_tool_args("predict", "--config", config, "--model_path", tmp_path / "none.pdparams",
                           "--image_path", tmp_path / "eye.png", "--threshold", "0.4", "--device", "cpu")
    assert_one_error(result, "--threshold 0.4", "needs a binary model", "3 classes")
