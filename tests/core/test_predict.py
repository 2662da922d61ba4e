"""tools/predict.py in-process: palette PNGs of class ids, blended images, probability maps; an image,
a folder (recursive) or a list file."""
import os
import struct
import zlib

import cv2
import numpy as np
import paddle
import pytest

from paddleseg_lite.core.infer import inference, logits_to_pred
from paddleseg_lite.cvlibs import Config
from paddleseg_lite import cli
from paddleseg_lite.utils.visual import color_map
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


def expected_pred(model, image_path):
    transforms = Config(CONFIG, opts=TINY).val_transforms
    data = transforms({"img": str(image_path), "trans_info": [], "gt_fields": []})
    model.eval()
    logits = inference(model, paddle.to_tensor(data["img"][None]), data["trans_info"])
    return logits_to_pred(logits).numpy()[0, 0]


def test_one_image_gives_class_id_palette_png_blend_and_probability(setup, tmp_path):
    root, model = setup
    run_predict(root, root / "images" / "a.png", tmp_path, "--save_prob")
    values, palette = read_palette_png(tmp_path / "pseudo_color_prediction" / "a.png")
    np.testing.assert_array_equal(values, expected_pred(model, root / "images" / "a.png"))
    np.testing.assert_array_equal(palette[:2], color_map(2))
    assert cv2.imread(str(tmp_path / "added_prediction" / "a.png")).shape == (24, 40, 3)
    prob = cv2.imread(str(tmp_path / "probability_map" / "a.png"), cv2.IMREAD_UNCHANGED)
    assert prob.shape == (24, 40) and prob.dtype == np.uint8
    np.testing.assert_array_equal(prob > 127, values == 1)


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
