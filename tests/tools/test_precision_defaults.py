"""tools/predict.py and tools/val.py share their inference defaults (fp32, --engine auto), so the same
model gives the same pixels in both; bf16 only on request (--precision bf16, or auto). deploy/python/infer.py
defaults to fp32 too (as PaddleSeg's)."""

import numpy as np
import pytest

from paddleseg_lite.cli import infer
from paddleseg_lite.transforms.io import read_label
from tool_runner import CONFIG, TINY, load_tool, save_tiny_weights

PREDICT, VAL = load_tool("predict"), load_tool("val")
SIZE = ["val_dataset.image_size=48"]  # the val images are those make_synthetic_data writes at 48 px


def test_predict_and_val_default_to_fp32():
    common = ["--config", CONFIG, "--model_path", "m.pdparams"]
    for args in (PREDICT.parse_args(common + ["--image_path", "x.png"]), VAL.parse_args(common)):
        assert (args.precision, args.engine) == ("fp32", "auto")
    assert PREDICT.parse_args(common + ["--image_path", "x.png", "--precision", "bf16"]).precision == "bf16"
    assert infer.parse_args(["--config", "deploy.yaml", "--image_path", "x.png"]).precision == "fp32"


class Recorder:
    """Stands in for val's ReportWriter: keeps the prediction of each image as val evaluated it."""
    preds = {}

    def __init__(self, *args):
        pass

    def add(self, data, label, pred, prob, fov):
        Recorder.preds[str(data["img_path"][0])] = np.array(pred)

    def finish(self, *args):
        pass


def test_same_model_gives_the_same_pixels_in_predict_and_val(tmp_path, monkeypatch):
    save_tiny_weights(tmp_path / "model.pdparams", seed=3)  # random weights: many pixels near the decision
    names = ["synthetic_val_{:04d}".format(i) for i in range(4)]
    load_tool("make_synthetic_data").write_dataset(str(tmp_path / "data"), 4, 48, "val", 0)
    common = ["--config", CONFIG, "--device", "cpu", "--model_path", str(tmp_path / "model.pdparams")]
    PREDICT.main(common + ["--image_path", str(tmp_path / "data" / "images"), "--save_dir", str(tmp_path / "p"),
                           "--opts", *TINY, *SIZE])
    monkeypatch.setattr(VAL, "ReportWriter", Recorder)
    VAL.main(common + ["--save_dir", str(tmp_path / "v"), "--opts", *TINY, *SIZE])
    assert sorted(Recorder.preds) == names
    vessel_pixels = 0
    for name in names:
        predicted = read_label(str(tmp_path / "p" / "pseudo_color_prediction" / (name + ".png")))
        np.testing.assert_array_equal(predicted, Recorder.preds[name], err_msg=name)
        vessel_pixels += int((predicted == 1).sum())
    assert 0 < vessel_pixels < 4 * 48 * 48  # both classes occur: the comparison means something


@pytest.fixture(autouse=True)
def fresh_recorder():
    Recorder.preds = {}
    yield
