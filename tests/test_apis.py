"""The Python API (`paddleseg_lite.init_model` / `inference_model`): the same pixels and probabilities as
tools/predict.py (stored threshold, FOV, test_config flips), RGB arrays equal to the files they came from, a
shipped model by name, one-line errors, and `import paddleseg_lite` without paddle."""
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tool_runner import CONFIG, ROOT, TINY, load_tool, save_tiny_weights
from paddleseg_lite import Segmenter, inference_model, init_model, pretrained
from paddleseg_lite.core.threshold import store_threshold, stored_threshold
from paddleseg_lite.transforms.io import read_label
from paddleseg_lite.utils.errors import UserError

NAMES = ["synthetic_val_0000", "synthetic_val_0001"]
THRESHOLD = 0.45


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    save_tiny_weights(root / "model.pdparams", seed=3)
    store_threshold(str(root / "model.pdparams"), {"threshold": THRESHOLD, "threshold_f1": None})
    load_tool("make_synthetic_data").write_dataset(str(root / "data"), 2, 48, "val", 0)
    return root


def test_api_gives_the_pixels_and_probabilities_of_predict(setup, tmp_path):
    opts = TINY + ["test_config.aug_eval=True", "test_config.flip_horizontal=True"]
    load_tool("predict").main(["--config", CONFIG, "--model_path", str(setup / "model.pdparams"), "--device", "cpu",
                               "--image_path", str(setup / "data" / "images"),
                               "--save_dir", str(tmp_path), "--save_prob", "--opts", *opts])
    model = init_model(CONFIG, str(setup / "model.pdparams"), device="cpu", opts=opts)
    assert model.threshold == THRESHOLD and model.options.flip_horizontal and model.fov.source == "auto"
    paths = [str(setup / "data" / "images" / (name + ".png")) for name in NAMES]
    for name, (label_map, prob) in zip(NAMES, inference_model(model, paths)):
        assert label_map.shape == (48, 48) and prob.shape == (2, 48, 48) and prob.dtype == np.float32
        assert np.array_equal(label_map, read_label(str(tmp_path / "pseudo_color_prediction" / (name + ".png"))))
        saved = cv2.imread(str(tmp_path / "probability_map" / (name + ".png")), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(np.round(prob[1] * 255).astype(np.uint8), saved)
        fov = cv2.imread(str(setup / "data" / "masks" / (name + ".png")), cv2.IMREAD_GRAYSCALE) > 0
        assert np.array_equal(label_map, (prob[1] >= THRESHOLD) & fov)  # the stored threshold, inside the FOV
        assert np.all(prob[0][~fov] == 1)


def test_an_rgb_array_predicts_as_its_file(setup):
    model = init_model(CONFIG, str(setup / "model.pdparams"), device="cpu", engine="dygraph", opts=TINY)
    path = str(setup / "data" / "images" / (NAMES[0] + ".png"))
    from_file = model(path)
    rgb = np.ascontiguousarray(cv2.imread(path)[:, :, ::-1])
    from_array = inference_model(model, rgb)
    assert np.array_equal(from_array.label_map, from_file.label_map)
    assert np.array_equal(from_array.probabilities, from_file.probabilities)
    assert not np.array_equal(model(rgb[:, :, ::-1].copy()).probabilities, from_file.probabilities)  # BGR differs


def test_a_shipped_model_by_name(setup):
    model = init_model("drive_unet_cpu", device="cpu", engine="dygraph")
    shipped = pretrained.shipped_model("drive_unet_cpu")
    assert isinstance(model, Segmenter) and model.threshold == stored_threshold(shipped.model_path)[0]
    label_map, prob = inference_model(model, str(setup / "data" / "images" / (NAMES[0] + ".png")))
    assert label_map.shape == (48, 48) and prob.shape == (2, 48, 48)


@pytest.mark.parametrize("call, message", [
    (lambda: init_model("drive_unet_cpx"), "init_model('drive_unet_cpx'): neither a config file nor a shipped "
                                          "model (drive_unet_cpu). Did you mean 'drive_unet_cpu'?"),
    (lambda: init_model("drive_unet_cpu", "w.pdparams"), "a shipped model brings its weights"),
    (lambda: init_model(CONFIG, engine="onnxx"), "init_model: engine must be one of auto, dygraph, inference, onnx"),
    (lambda: inference_model("model", "a.png"), "inference_model: model must come from paddleseg_lite.init_model"),
    (lambda: Segmenter(None, None, None)(np.zeros((4, 4, 3), np.float32)),
     "img must be an image file path or an HxWx3 uint8 RGB array, got an array of float32 (4, 4, 3)"),
])
def test_mistakes_are_one_line(call, message):
    with pytest.raises(UserError) as e:
        call()
    assert message in str(e.value) and "\n" not in str(e.value)


def test_import_is_light():
    code = ("import sys, paddleseg_lite; assert 'paddle' not in sys.modules and 'cv2' not in sys.modules; "
            "from paddleseg_lite import init_model; assert 'paddle' in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)
