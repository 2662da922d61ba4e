"""`--model NAME` of tools/predict.py, val.py and export.py: the shipped model's config and weights, its stored
threshold and the fundus FOV default as for any model; with --config / --model_path (or val's --threshold
auto, which would overwrite the shipped threshold) one error line."""
import os
import re

import cv2
import pytest
import yaml

from fault_check import assert_one_error, run_tool_args
from tool_runner import load_tool
from paddleseg_lite import pretrained
from paddleseg_lite.core.threshold import stored_threshold
from paddleseg_lite.transforms.io import read_label
from paddleseg_lite.utils.errors import UserError

PREDICT, VAL, EXPORT = load_tool("predict"), load_tool("val"), load_tool("export")
SHIPPED = pretrained.shipped_model("drive_unet_cpu")
NAME = "synthetic_val_0000"


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("fundus")
    load_tool("make_synthetic_data").write_dataset(str(root), 1, 48, "val", 0)
    return root


def test_predict_model_uses_the_stored_threshold_and_the_fov(images, tmp_path, log_lines):
    fov = cv2.imread(str(images / "masks" / (NAME + ".png")), cv2.IMREAD_GRAYSCALE) > 0  # the true disc
    for out, flags in ((tmp_path / "stored", []), (tmp_path / "all", ["--threshold", "0"])):
        PREDICT.main(["--model", "drive_unet_cpu", "--image_path", str(images / "images"), "--save_dir", str(out),
                      "--device", "cpu", "--engine", "dygraph", *flags])
        vessel = read_label(str(out / "pseudo_color_prediction" / (NAME + ".png"))) == 1
        assert vessel[~fov].sum() == 0
    assert vessel[fov].all()  # threshold 0: vessel wherever the FOV lets it be
    assert "Decision threshold: {:.4f} (stored in {})".format(
        stored_threshold(SHIPPED.model_path)[0], os.path.splitext(SHIPPED.model_path)[0] + ".pdstates") in log_lines


def test_val_and_export_take_the_shipped_files(tmp_path):
    args = VAL.parse_args(["--model", "drive_unet_cpu", "--threshold", "0.5"])
    assert (args.config, args.model_path) == (SHIPPED.config, SHIPPED.model_path)
    EXPORT.main(["--model", "drive_unet_cpu", "--save_dir", str(tmp_path)])
    deploy = yaml.safe_load((tmp_path / "deploy.yaml").read_text())["Deploy"]
    assert deploy["threshold"] == pytest.approx(stored_threshold(SHIPPED.model_path)[0]) and deploy["fov"] == "auto"


@pytest.mark.parametrize("tool, argv, message", [
    (PREDICT, ["--model", "drive_unet_cpu", "--model_path", "m.pdparams", "--image_path", "a.png"],
     "--model drive_unet_cpu gives the config and the weights: leave out --model_path, or leave out --model"),
    (VAL, ["--model", "drive_unet_cpu", "--threshold", "auto"], "--threshold auto with --model drive_unet_cpu"),
    (PREDICT, ["--config", "c.yml", "--image_path", "a.png"], "--model_path is required (or --model NAME"),
    (PREDICT, ["--model", "out/model.pdparams", "--image_path", "a.png"],
     "--model out/model.pdparams: --model takes the name of a shipped model (drive_unet_cpu); give weights with"),
    (EXPORT, [], "--config is required (or --model NAME, a shipped model: drive_unet_cpu"),
])
def test_refused_combinations(tool, argv, message):
    with pytest.raises(UserError, match="^" + re.escape(message)):
        tool.parse_args(argv)


def test_model_with_config_is_one_error_line():
    result = run_tool_args("predict", "--model", "drive_unet_cpu", "--config", "c.yml", "--image_path", "a.png")
    assert_one_error(result, "--model drive_unet_cpu", "leave out --config")
