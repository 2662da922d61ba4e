"""Ensembles through the tools, as a user runs them (`--model_path a.pdparams b.pdparams`): val's metrics and
predict's files are those of the numpy mean of the members' softmax (after each member's flip augmentation),
the Python API gives the same, export writes ONE model that deploy infer runs unchanged with the same
probabilities and labels, the threshold rule of an ensemble, and members of another architecture or class
count are one error line naming the file."""
import argparse
import contextlib
import csv
import io
import os
import re

import cv2
import numpy as np
import paddle
import pytest
import yaml
from PIL import Image

from fault_check import assert_one_error, run_tool_args
from tool_runner import CONFIG, TINY, load_tool, save_tiny_weights
from paddleseg_lite import cli, inference_model, init_model
from paddleseg_lite.core.threshold import resolve_threshold, store_threshold
from paddleseg_lite.cvlibs import Config
from paddleseg_lite.deploy import Predictor
from paddleseg_lite.models import AttentionUNet, UNet
from paddleseg_lite.utils.errors import UserError

FLOAT = r"(\d+\.\d{4})"


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """Three tiny UNets' weights: (dir, [paths], [models in eval mode])."""
    root = tmp_path_factory.mktemp("ensemble")
    paths = [str(root / "fold_{}.pdparams".format(i)) for i in range(3)]
    models = [save_tiny_weights(path, seed=10 + i) for i, path in enumerate(paths)]
    for model in models:
        model.eval()
    return root, paths, models


def _run(tool, argv):
    """Run a tool's main in-process on the tiny config (dygraph); returns what it logged."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        load_tool(tool).main(["--config", CONFIG, "--device", "cpu", "--engine", "dygraph", *argv, "--opts", *TINY])
    return buffer.getvalue()


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _mean_prob(models, x, flip=False):
    """numpy mean over members of softmax(member logits), each averaged with its left-right flip first."""
    probs = []
    for model in models:
        z = model(paddle.to_tensor(x))[0].numpy().astype(np.float64)
        if flip:
            z = (z + model(paddle.to_tensor(x[..., ::-1].copy()))[0].numpy()[..., ::-1]) / 2
        probs.append(_softmax(z))
    return np.mean(probs, axis=0)[0]


def _normalised(path):
    img = cv2.imread(str(path))[:, :, ::-1].astype(np.float32)
    return ((img / 255 - 0.5) / 0.5).transpose(2, 0, 1)[None]


def _auc(score, positive):
    """Exact AUC-ROC (Mann-Whitney, ties half)."""
    pos, neg = np.sort(score[positive]), np.sort(score[~positive])
    below = np.searchsorted(neg, pos, side="left")
    ties = np.searchsorted(neg, pos, side="right") - below
    return float((below + ties / 2).sum() / (len(pos) * len(neg)))


def test_val_metrics_are_those_of_the_mean_probability(members, tmp_path):
    _, paths, models = members
    out = _run("val", ["--model_path", *paths, "--aug_eval", "--flip_horizontal", "--threshold", "auto",
                       "--save_dir", str(tmp_path)])
    dataset = Config(CONFIG, opts=TINY).val_dataset
    rows = list(csv.DictReader(open(tmp_path / "per_image_metrics.csv")))
    scores, truths, tp, fp, fn = [], [], 0, 0, 0
    for i, row in enumerate(rows):
        sample = dataset[i]
        fg = _mean_prob(models, sample["img"][None], flip=True)[1]
        inside = (sample["fov"][0] > 0) & (sample["label"][0] != 255)
        pred, truth = (fg > 0.5)[inside], (sample["label"][0] == 1)[inside]
        counts = (pred & truth).sum(), (pred & ~truth).sum(), (~pred & truth).sum()
        assert float(row["fov_dice"]) == pytest.approx(2 * counts[0] / (2 * counts[0] + counts[1] + counts[2]),
                                                       abs=1e-6)
        tp, fp, fn = tp + counts[0], fp + counts[1], fn + counts[2]
        scores.append(fg[inside])
        truths.append(truth)
    vessel = re.search(r"\[EVAL\] Vessel \(inside FOV\): Dice/F1: " + FLOAT + r" .* AUC: " + FLOAT, out)
    assert float(vessel.group(1)) == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=6e-5)
    assert float(vessel.group(2)) == pytest.approx(_auc(np.concatenate(scores), np.concatenate(truths)), abs=2e-4)
    assert "Ensemble of 3 UNet models" in out
    assert re.search(r"Threshold \d\.\d{4} of the ensemble of 3 members is not stored .* give --threshold", out)
    assert not list(members[0].glob("*.pdstates"))  # tuning an ensemble changes no member


def test_predict_and_the_api_write_the_mean_probability(members, tmp_path):
    _, paths, models = members
    load_tool("make_synthetic_data").write_dataset(str(tmp_path / "data"), 1, [48, 40], "val", 3)
    image = tmp_path / "data" / "images" / "synthetic_val_0000.png"
    _run("predict", ["--model_path", *paths, "--image_path", str(image), "--save_dir", str(tmp_path / "out"),
                     "--save_prob", "--fov", "none"])
    mean = _mean_prob(models, _normalised(image))
    clear = np.abs(mean[1] - 0.5) > 1e-5
    written = np.array(Image.open(tmp_path / "out" / "pseudo_color_prediction" / image.name))
    assert np.array_equal(written[clear], mean.argmax(axis=0)[clear])
    prob_png = cv2.imread(str(tmp_path / "out" / "probability_map" / image.name), cv2.IMREAD_GRAYSCALE)
    assert np.abs(prob_png.astype(int) - np.round(mean[1] * 255)).max() <= 1  # a .5 rounding at most
    segmenter = init_model(CONFIG, checkpoint=paths, device="cpu", engine="dygraph", fov="none", opts=TINY)
    label_map, probabilities = inference_model(segmenter, str(image))
    np.testing.assert_allclose(probabilities, mean, atol=1e-5)
    assert np.array_equal(label_map, written)


def test_one_model_path_is_the_model_itself(members):
    cfg = Config(CONFIG, opts=TINY)
    with contextlib.redirect_stdout(io.StringIO()):
        model = cli.load_model(cfg, argparse.Namespace(engine="dygraph", precision="fp32", model_path=members[1][:1]))
    assert model is cfg.model  # no Ensemble around it: today's path exactly


def test_onnx_runs_each_member_and_exports_one_graph_with_the_threshold(members, tmp_path):
    pytest.importorskip("paddle2onnx")
    pytest.importorskip("onnxruntime")
    _, paths, models = members
    load_tool("make_synthetic_data").write_dataset(str(tmp_path / "data"), 1, [40, 32], "val", 7)
    image = tmp_path / "data" / "images" / "synthetic_val_0000.png"
    mean = _mean_prob(models, _normalised(image))
    with contextlib.redirect_stdout(io.StringIO()):
        load_tool("predict").main(["--config", CONFIG, "--device", "cpu", "--engine", "onnx", "--model_path", *paths,
                                   "--image_path", str(image), "--save_dir", str(tmp_path / "out"), "--save_prob",
                                   "--fov", "none", "--opts", *TINY])
        load_tool("export").main(["--config", CONFIG, "--format", "onnx", "--threshold", "0.45", "--model_path",
                                  *paths, "--save_dir", str(tmp_path / "exp"), "--opts", *TINY])
        load_tool("infer").main(["--config", str(tmp_path / "exp" / "deploy.yaml"), "--image_path", str(image),
                                 "--save_dir", str(tmp_path / "infer"), "--device", "cpu", "--fov", "none"])
    prob_png = cv2.imread(str(tmp_path / "out" / "probability_map" / image.name), cv2.IMREAD_GRAYSCALE)
    assert np.abs(prob_png.astype(int) - np.round(mean[1] * 255)).max() <= 1
    clear = np.abs(mean[1] - 0.45) > 1e-5
    labels = np.array(Image.open(tmp_path / "infer" / image.name))
    assert np.array_equal(labels[clear], (mean[1] >= 0.45)[clear])  # thresholded in the exported graph


def test_an_exported_ensemble_is_one_model_deploy_infer_runs(members, tmp_path):
    _, paths, models = members
    export = load_tool("export")
    with contextlib.redirect_stdout(io.StringIO()):
        export.main(["--config", CONFIG, "--model_path", *paths, "--output_op", "softmax", "--save_dir",
                     str(tmp_path / "exp"), "--opts", *TINY])
    deploy = yaml.safe_load(open(tmp_path / "exp" / "deploy.yaml"))["Deploy"]
    assert deploy["ensemble"]["members"] == 3 and deploy["ensemble"]["weights"] == paths
    load_tool("make_synthetic_data").write_dataset(str(tmp_path / "data"), 1, [40, 32], "val", 5)
    image = tmp_path / "data" / "images" / "synthetic_val_0000.png"
    x = _normalised(image)
    mean = _mean_prob(models, x)
    np.testing.assert_allclose(Predictor(str(tmp_path / "exp"))(x)[0], mean, atol=1e-5)
    with contextlib.redirect_stdout(io.StringIO()):
        load_tool("infer").main(["--config", str(tmp_path / "exp" / "deploy.yaml"), "--image_path", str(image),
                                 "--save_dir", str(tmp_path / "infer"), "--device", "cpu", "--fov", "none"])
    labels = np.array(Image.open(tmp_path / "infer" / image.name))
    clear = np.abs(mean[1] - 0.5) > 1e-5
    assert np.array_equal(labels[clear], mean.argmax(axis=0)[clear])


def test_an_ensemble_threshold_is_the_flag_else_the_mean_of_every_members(members, caplog):
    _, paths, _ = members
    a, b = paths[:2]
    store_threshold(a, {"threshold": 0.3, "threshold_f1": 0.5})
    try:
        assert resolve_threshold(None, [a, b], 2).value is None  # b stores none: argmax
        assert "1 of the 2 ensemble members store none (first: {})".format(b) in caplog.text
        store_threshold(b, {"threshold": 0.5, "threshold_f1": 0.5})
        assert resolve_threshold(None, [a, b], 2).value == pytest.approx(0.4)
        assert "Decision threshold: 0.4000 (mean of the 2 ensemble members' stored thresholds 0.3000, 0.5000)" \
            in caplog.text
        assert resolve_threshold(0.7, [a, b], 2).value == 0.7
    finally:  # the other tests' members store none
        for path in (a, b):
            if os.path.exists(path.replace(".pdparams", ".pdstates")):
                os.remove(path.replace(".pdparams", ".pdstates"))


@pytest.mark.parametrize("other, hint", [
    (lambda: UNet(num_classes=2, base_channels=8), "has shape"),  # another width
    (lambda: UNet(num_classes=3, base_channels=4), "has shape"),  # another class count
    (lambda: AttentionUNet(num_classes=2, base_channels=4), "does not have"),  # another architecture
])
def test_a_member_of_another_model_is_refused_naming_its_file(members, tmp_path, other, hint):
    _, paths, _ = members
    odd = str(tmp_path / "odd.pdparams")
    paddle.save(other().state_dict(), odd)
    with pytest.raises(UserError) as error:
        _run("val", ["--model_path", paths[0], odd])
    message = str(error.value)
    assert "ensemble member 2 of 2" in message and odd in message and hint in message and "\n" not in message


def test_a_bad_member_is_one_error_line(members, tmp_path):
    _, paths, _ = members
    image = tmp_path / "eye.png"
    cv2.imwrite(str(image), np.zeros((32, 32, 3), np.uint8))
    result = run_tool_args("predict", "--config", CONFIG, "--device", "cpu", "--model_path", paths[0],
                           tmp_path / "missing.pdparams", "--image_path", image, "--opts", *TINY)
    assert_one_error(result, "ensemble member 2 of 2", "missing.pdparams")
