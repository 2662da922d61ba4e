"""tools/predict.py in-process: palette PNGs of class ids, blended images, probability maps; an image,
a folder (recursive) or a list file."""
import math
import os
import struct
import zlib

import cv2
import numpy as np
import paddle
import pytest

from paddleseg_lite import cli
from paddleseg_lite.core.predict import predict
from paddleseg_lite.transforms import Compose, Padding
from tool_runner import CONFIG, TINY, load_tool, save_tiny_weights

PREDICT = load_tool("predict")


def read_palette_png(path):
    """(pixel values HxW, palette Kx3) of an 8-bit palette PNG, decoded without cv2 (which expands it)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = {}, 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks[kind] = chunks.get(kind, b"") + data[pos + 8:pos + 8 + length]
        pos += 12 + length
    width, height, depth, color_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color_type) == (8, 3)
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, width + 1)
    assert not rows[:, 0].any(), "only filter type 0 is decoded here"
    return rows[:, 1:], np.frombuffer(chunks[b"PLTE"], np.uint8).reshape(-1, 3)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    model = save_tiny_weights(root / "model.pdparams", seed=1)
    rng = np.random.default_rng(0)
    images = root / "images"
    for rel in ("a.png", "sub/b.jpg"):
        os.makedirs(images / os.path.dirname(rel), exist_ok=True)
        cv2.imwrite(str(images / rel), rng.integers(0, 255, (24, 40, 3), dtype=np.uint8))
    (images / "list.txt").write_text("a.png\nsub/b.jpg extra_column\n")
    return root, model


def run_predict(root, image_path, save_dir, *args):
    PREDICT.main(["--config", CONFIG, "--device", "cpu", "--model_path", str(root / "model.pdparams"),
                  "--image_path", str(image_path), "--save_dir", str(save_dir), *args, "--opts", *TINY])


def dygraph_logits(model, image_path):
    """The model's own forward pass on the image normalised by hand (RGB, (x/255 - 0.5) / 0.5)."""
    rgb = cv2.imread(str(image_path))[:, :, ::-1].astype(np.float32)
    model.eval()
    with paddle.no_grad():
        return model(paddle.to_tensor(((rgb / 255 - 0.5) / 0.5).transpose(2, 0, 1)[None].copy()))[0].numpy()[0]


def test_one_image_gives_class_id_palette_png_blend_and_probability(setup, tmp_path):
    root, model = setup
    # --fov none: the quickstart config is a fundus one (default auto), and these noise images have no FOV
    run_predict(root, root / "images" / "a.png", tmp_path, "--save_prob", "--precision", "fp32", "--fov", "none")
    logits = dygraph_logits(model, root / "images" / "a.png")
    values, palette = read_palette_png(tmp_path / "pseudo_color_prediction" / "a.png")
    np.testing.assert_array_equal(values, logits.argmax(0))
    np.testing.assert_array_equal(palette[:3], [[128, 0, 0], [0, 128, 0], [128, 128, 0]])
    assert cv2.imread(str(tmp_path / "added_prediction" / "a.png")).shape == (24, 40, 3)
    prob = cv2.imread(str(tmp_path / "probability_map" / "a.png"), cv2.IMREAD_UNCHANGED)
    assert prob.shape == (24, 40) and prob.dtype == np.uint8
    want = 255 / (1 + np.exp(logits[0] - logits[1]))  # softmax of class 1, x 255
    assert np.abs(prob - want).max() <= 0.51


class RedNet(paddle.nn.Layer):
    """Logits [0, (R - 100) * ln3 / 50]: class 1 where red > 100; p(class 1) = 0.75 at red 150, 0.25 at 50."""

    def forward(self, x):
        fg = (x[:, :1] - 100) * (math.log(3) / 50)
        return [paddle.concat([paddle.zeros_like(fg), fg], axis=1)]


BGR = np.array([[[10, 20, 150], [30, 40, 50], [200, 100, 150]],
                [[0, 0, 50], [255, 255, 255], [60, 70, 80]]], np.uint8)  # red: 150 50 150 / 50 255 80


@pytest.fixture
def red_image(tmp_path):
    os.makedirs(tmp_path / "in" / "sub")
    cv2.imwrite(str(tmp_path / "in" / "sub" / "x.png"), BGR)
    return tmp_path / "in"


def test_predict_writes_literal_palette_blend_and_probability(red_image, tmp_path):
    # Padding records trans_info: the outputs must be cropped back to the 2x3 image.
    transforms = Compose([Padding(target_size=(4, 4), im_padding_value=0)])
    predict(RedNet(), None, transforms, [str(red_image / "sub" / "x.png")], str(red_image),
            save_dir=str(tmp_path / "out"), save_prob=True)
    values, palette = read_palette_png(tmp_path / "out" / "pseudo_color_prediction" / "sub" / "x.png")
    np.testing.assert_array_equal(values, [[1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(palette[:3], [[128, 0, 0], [0, 128, 0], [128, 128, 0]])
    # binary overlay (BGR): class-1 pixels 0.85 * green (0, 255, 0) + 0.15 * pixel, class 0 unchanged
    added = cv2.imread(str(tmp_path / "out" / "added_prediction" / "sub" / "x.png"))
    np.testing.assert_allclose(added, [[[1.5, 219.75, 22.5], [30, 40, 50], [30, 231.75, 22.5]],
                                       [[0, 0, 50], [38.25, 255, 38.25], [60, 70, 80]]], atol=0.5)
    prob = cv2.imread(str(tmp_path / "out" / "probability_map" / "sub" / "x.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(prob, [[191, 64, 191], [64, 247, 100]])  # round(255 * sigmoid(logit))


def test_predict_custom_color_replaces_the_first_colours(red_image, tmp_path):
    predict(RedNet(), None, Compose([]), [str(red_image / "sub" / "x.png")], str(red_image), save_dir=str(tmp_path),
            custom_color=[255, 0, 0, 0, 0, 255])
    _, palette = read_palette_png(tmp_path / "pseudo_color_prediction" / "sub" / "x.png")
    np.testing.assert_array_equal(palette[:3], [[255, 0, 0], [0, 0, 255], [128, 128, 0]])
    added = cv2.imread(str(tmp_path / "added_prediction" / "sub" / "x.png"))  # vessels: custom class 1 (blue)
    np.testing.assert_allclose(added[0], [[218.25, 3, 22.5], [30, 40, 50], [246.75, 15, 22.5]], atol=0.5)
    assert not os.path.exists(tmp_path / "probability_map")


@pytest.mark.parametrize("source", ["images", "images/list.txt"])
def test_folder_and_list_keep_relative_paths(setup, tmp_path, source):
    root, _ = setup
    run_predict(root, root / source, tmp_path, "--aug_pred", "--flip_horizontal")
    found = sorted(os.path.relpath(os.path.join(d, f), tmp_path) for d, _, fs in os.walk(tmp_path) for f in fs)
    assert found == ["added_prediction/a.png", "added_prediction/sub/b.jpg", "pseudo_color_prediction/a.png",
                     "pseudo_color_prediction/sub/b.png"]


def test_no_images_is_a_one_line_error(setup, tmp_path, capsys):
    root, _ = setup
    with pytest.raises(SystemExit) as exit_info:
        cli.run(lambda: run_predict(root, tmp_path, tmp_path / "out"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --image_path ") and "no images found" in err and err.count("\n") == 1
