"""--fov in tools/predict.py, tools/val.py and deploy/python/infer.py (in-process), and `fov: auto` in the
deploy.yaml of a fundus export: no vessel pixel outside the field of view, one error line for a bad --fov.

The model predicts vessel everywhere (its head's weights 0, bias favouring class 1), so every pixel a tool
writes as background was masked by the FOV; the true FOV is the synthetic images' own."""
import os

import cv2
import numpy as np
import paddle
import pytest
import yaml

from paddleseg_lite import cli
from paddleseg_lite.transforms.io import read_label
from tool_runner import CONFIG, TINY, load_tool, save_tiny_weights

PREDICT, VAL, EXPORT = load_tool("predict"), load_tool("val"), load_tool("export")
INFER = load_tool("infer")
NAMES = ["synthetic_val_0000", "synthetic_val_0001"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("fov")
    model = save_tiny_weights(root / "model.pdparams")
    state = model.state_dict()
    for name in ("cls", "conv"):
        state[name + ".weight"] = paddle.zeros_like(state[name + ".weight"])
        state[name + ".bias"] = paddle.to_tensor([0.0, 5.0])
    paddle.save(state, str(root / "model.pdparams"))
    load_tool("make_synthetic_data").write_dataset(str(root / "data"), 2, 48, "val", 0)
    return root


def true_fov(root, name):
    return cv2.imread(str(root / "data" / "masks" / (name + ".png")), cv2.IMREAD_GRAYSCALE) > 0


def predict(root, save_dir, *args):
    PREDICT.main(["--config", CONFIG, "--device", "cpu", "--model_path", str(root / "model.pdparams"),
                  "--image_path", str(root / "data" / "images"), "--save_dir", str(save_dir), "--save_prob",
                  *args, "--opts", *TINY])


@pytest.mark.parametrize("flag", [[], ["--fov", "auto"], ["--fov", "DIR"]])
def test_predict_writes_background_outside_the_fov(setup, tmp_path, flag):
    flag = [str(setup / "data" / "masks") if f == "DIR" else f for f in flag]
    predict(setup, tmp_path, *flag)  # the quickstart config is a fundus one: auto is the default
    for name in NAMES:
        fov = true_fov(setup, name)
        vessel = read_label(str(tmp_path / "pseudo_color_prediction" / (name + ".png"))) == 1
        assert vessel[~fov].sum() == 0 and vessel[fov].all()
        prob = cv2.imread(str(tmp_path / "probability_map" / (name + ".png")), cv2.IMREAD_UNCHANGED)
        assert prob[~fov].max() == 0 and prob[fov].min() > 0
        image = cv2.imread(str(setup / "data" / "images" / (name + ".png"))).astype(np.float32)
        added = cv2.imread(str(tmp_path / "added_prediction" / (name + ".png"))).astype(np.float32)
        vessel_bgr = 0.85 * np.array([0, 255, 0]) + 0.15 * image  # the binary overlay: bright green at 85%
        assert np.array_equal(added[~fov], image[~fov])  # background: the image unchanged
        assert np.abs(added[fov] - vessel_bgr[fov]).max() <= 1


def test_predict_fov_none_keeps_the_ring(setup, tmp_path):
    predict(setup, tmp_path, "--fov", "none")
    pred = read_label(str(tmp_path / "pseudo_color_prediction" / (NAMES[0] + ".png")))
    assert (pred == 1).all()  # vessel everywhere: the ring outside the eye


def run_one_error(main, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.run(main)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and err.startswith("error: ")
    return err


def test_fov_folder_missing_a_mask_is_one_error_naming_the_image(setup, tmp_path, capsys):
    masks = tmp_path / "masks"
    os.makedirs(masks)
    os.link(setup / "data" / "masks" / (NAMES[0] + ".png"), masks / (NAMES[0] + "_mask.png"))  # DRIVE naming
    err = run_one_error(lambda: predict(setup, tmp_path / "out", "--fov", str(masks)), capsys)
    assert NAMES[1] + ".png" in err and "1 of 2 images" in err and str(masks) in err
    assert not os.path.exists(tmp_path / "out" / "pseudo_color_prediction")  # refused before any work
    err = run_one_error(lambda: predict(setup, tmp_path / "out", "--fov", "autoo"), capsys)
    assert err == "error: --fov autoo: expected auto, none or a folder of FOV masks (that folder does not exist)\n"


def test_val_fov_auto_on_a_dataset_without_masks(setup, tmp_path, log_lines):
    config = tmp_path / "c.yml"
    lines = [" ".join(line.split()[:2]) for line in (setup / "data" / "val_list.txt").read_text().splitlines()]
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    config.write_text(yaml.safe_dump({
        "model": {"type": "UNet", "base_channels": 4},
        "val_dataset": {"type": "Dataset", "mode": "val", "dataset_root": str(setup / "data"), "num_classes": 2,
                        "val_path": str(tmp_path / "list.txt"), "transforms": [{"type": "Normalize"}]}}))
    for flag in ([], ["--fov", "auto"]):
        VAL.main(["--config", str(config), "--device", "cpu", "--model_path", str(setup / "model.pdparams"), *flag])
    vessel_lines = [line for line in log_lines if line.startswith("[EVAL] Vessel") and "Dice/F1" in line]
    # not a fundus dataset: no FOV by default; with --fov auto, inside-FOV metrics and a masked whole image
    # (all-vessel prediction: Se 1 everywhere; outside the FOV every pixel is then a true negative)
    assert [line.split(":")[0] for line in vessel_lines] == [
        "[EVAL] Vessel (whole image)", "[EVAL] Vessel (inside FOV)", "[EVAL] Vessel (whole image)"]
    assert " Sp: 0.0000 " in vessel_lines[0] and " Sp: 0.0000 " in vessel_lines[1]
    fov = np.concatenate([true_fov(setup, name).ravel() for name in NAMES])
    labels = np.concatenate([cv2.imread(str(setup / "data" / "labels" / (name + ".png")), 0).ravel()
                             for name in NAMES])
    negatives_inside, negatives = ((labels == 0) & fov).sum(), ((labels == 0) | ~fov).sum()
    sp = 1 - negatives_inside / negatives  # whole image: the FOV's negatives are false positives
    assert " Sp: {:.4f} ".format(sp) in vessel_lines[2]


def test_export_records_fov_auto_and_infer_uses_it(setup, tmp_path):
    out = tmp_path / "export"
    EXPORT.main(["--config", CONFIG, "--model_path", str(setup / "model.pdparams"), "--save_dir", str(out),
                 "--opts", *TINY])
    assert yaml.safe_load((out / "deploy.yaml").read_text())["Deploy"]["fov"] == "auto"
    for flag, masked in (([], True), (["--fov", "none"], False)):
        INFER.main(["--config", str(out / "deploy.yaml"), "--image_path", str(setup / "data" / "images"),
                    "--save_dir", str(tmp_path / "res"), "--device", "cpu", "--precision", "fp32", *flag])
        for name in NAMES:
            fov = true_fov(setup, name)
            pred = read_label(str(tmp_path / "res" / (name + ".png"))) == 1  # palette indices = class ids
            assert pred[fov].all() and pred[~fov].sum() == (0 if masked else (~fov).sum())
