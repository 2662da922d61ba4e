"""Export + Paddle Inference predictor: files, deploy.yaml, and parity with the dygraph model."""
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest
import yaml
from paddle.base.proto import framework_pb2

from paddleseg_lite.deploy import Predictor, export_model, inference_model, load_deploy_config
from paddleseg_lite.deploy.conv_bias import rewire_conv_bias
from paddleseg_lite.deploy.predictor import resolve_precision
from paddleseg_lite.models import UNet
from paddleseg_lite.utils.cpu import available_cpus, setup_cpu_threads

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TRANSFORMS = [{"type": "Normalize"}]


@pytest.fixture(scope="module")
def model():
    paddle.seed(0)
    net = UNet(num_classes=2, base_channels=4)
    net.eval()
    return net


@pytest.fixture(scope="module")
def images():
    rng = np.random.RandomState(0)
    return [rng.uniform(-1, 1, (1, 3, h, w)).astype("float32") for h, w in ((64, 64), (45, 61), (32, 40))]


def _logits(model, x):
    with paddle.no_grad():
        return model(paddle.to_tensor(x))[0].numpy()


def test_export_writes_files_and_deploy_yaml(model, tmp_path):
    path = export_model(model, str(tmp_path), transforms=TRANSFORMS)
    assert sorted(f for f in os.listdir(tmp_path) if not f.endswith(".info")) == [
        "deploy.yaml", "model.pdiparams", "model.pdmodel"]
    deploy = yaml.safe_load(open(path))["Deploy"]
    assert deploy == {"model": "model.pdmodel", "params": "model.pdiparams", "transforms": TRANSFORMS,
                      "input_shape": [None, 3, None, None], "output_op": "argmax", "output_dtype": "int32"}
    assert model.training is False


def test_export_restores_training_mode(tmp_path):
    net = UNet(num_classes=2, base_channels=4)
    net.train()
    export_model(net, str(tmp_path), output_op="none")
    assert net.training


@pytest.mark.parametrize("output_op", ["none", "softmax", "argmax"])
def test_fp32_predictor_matches_dygraph(model, images, tmp_path, output_op):
    export_model(model, str(tmp_path), transforms=TRANSFORMS, output_op=output_op)
    predictor = Predictor(str(tmp_path), device="cpu", precision="fp32", cpu_threads=1)
    for x in images:
        ref = _logits(model, x)
        out = predictor(x)
        if output_op == "none":
            np.testing.assert_allclose(out, ref, atol=1e-4, rtol=0)
        elif output_op == "softmax":
            np.testing.assert_allclose(out, paddle.nn.functional.softmax(paddle.to_tensor(ref), 1).numpy(), atol=1e-4)
        else:
            assert out.dtype == np.int32 and out.shape == (1,) + x.shape[2:]
            np.testing.assert_array_equal(out, ref.argmax(1))


def test_fp32_predictor_without_onednn_matches(model, images, tmp_path):
    export_model(model, str(tmp_path), output_op="none")
    predictor = Predictor(str(tmp_path), precision="fp32", use_onednn=False, cpu_threads=1)
    np.testing.assert_allclose(predictor(images[1]), _logits(model, images[1]), atol=1e-4, rtol=0)


def test_batch_and_static_input_shape(model, tmp_path):
    x = np.random.RandomState(1).randn(2, 3, 32, 48).astype("float32")
    export_model(model, str(tmp_path), input_shape=[None, 3, 32, 48], output_op="none")
    assert load_deploy_config(str(tmp_path))[1]["input_shape"] == [None, 3, 32, 48]
    np.testing.assert_allclose(Predictor(str(tmp_path), precision="fp32")(x), _logits(model, x), atol=1e-4)


@pytest.mark.skipif(not paddle.base.core.supports_bfloat16(), reason="CPU without bf16 support")
def test_bf16_predictor_is_close(model, images, tmp_path):
    export_model(model, str(tmp_path), output_op="softmax")
    predictor = Predictor(str(tmp_path), precision="bf16")
    out = predictor(images[0])
    ref = paddle.nn.functional.softmax(paddle.to_tensor(_logits(model, images[0])), 1).numpy()
    assert out.dtype == np.float32
    assert np.abs(out - ref).max() < 0.05


def test_inference_model_plays_the_model(model, images):
    engine = inference_model(model, precision="fp32")
    out = engine.eval()(paddle.to_tensor(images[1]))
    assert isinstance(out, list) and len(out) == 1
    np.testing.assert_allclose(out[0].numpy(), _logits(model, images[1]), atol=1e-4, rtol=0)


def test_precision_rules():
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert resolve_precision("auto", "cpu", use_onednn=False) == "fp32"
    assert resolve_precision("auto", "gpu") == "fp32"
    with pytest.raises(ValueError, match="GPU"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(ValueError):
        resolve_precision("double", "cpu")


def test_missing_deploy_yaml(tmp_path):
    with pytest.raises(FileNotFoundError, match="tools/export.py"):
        Predictor(str(tmp_path))


def test_setup_cpu_threads():
    assert setup_cpu_threads(1) == 1
    assert setup_cpu_threads() == available_cpus()


def _write_config(tmp_path):
    cfg = {"model": {"type": "UNet", "num_classes": 2, "base_channels": 4},
           "val_dataset": {"type": "SyntheticVessels", "mode": "val", "num_samples": 2, "image_size": 32,
                           "transforms": TRANSFORMS}}
    path = tmp_path / "cfg.yml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_export_and_infer_tools(tmp_path):
    cfg = _write_config(tmp_path)
    weights = tmp_path / "model.pdparams"
    paddle.seed(1)
    paddle.save(UNet(num_classes=2, base_channels=4).state_dict(), str(weights))
    out_dir = tmp_path / "inference_model"
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "export.py"), "--config", str(cfg),
                    "--model_path", str(weights), "--save_dir", str(out_dir)], check=True, cwd=ROOT)
    image = tmp_path / "img.png"
    import cv2
    cv2.imwrite(str(image), np.random.RandomState(0).randint(0, 255, (40, 52, 3), dtype=np.uint8))
    subprocess.run([sys.executable, os.path.join(ROOT, "deploy", "python", "infer.py"), "--config",
                    str(out_dir / "deploy.yaml"), "--image_path", str(image), "--save_dir", str(tmp_path / "res"),
                    "--device", "cpu", "--precision", "fp32"], check=True, cwd=ROOT)
    result = cv2.imread(str(tmp_path / "res" / "img.png"), cv2.IMREAD_UNCHANGED)
    assert result.shape[:2] == (40, 52)


def test_conv_bias_adds_are_exported_in_the_form_the_fuse_passes_take(model, images, tmp_path):
    export_model(model, str(tmp_path), output_op="none")
    program = framework_pb2.ProgramDesc()
    program.ParseFromString((tmp_path / "model.pdmodel").read_bytes())
    ops = program.blocks[0].ops
    adds = [op for op in ops if op.type == "elementwise_add"]
    biased = [layer for layer in model.sublayers() if isinstance(layer, paddle.nn.Conv2D) and layer.bias is not None]
    assert len(adds) == len(biased) and not [op for op in ops if op.type == "reshape2"]
    assert all(attr.i == 1 for op in adds for attr in op.attrs if attr.name == "axis")
    assert rewire_conv_bias(str(tmp_path / "model.pdmodel")) == 0  # nothing left to rewrite
    out = Predictor(str(tmp_path), precision="fp32")(images[1])  # the same function
    np.testing.assert_allclose(out, _logits(model, images[1]), atol=1e-4, rtol=0)
