"""ONNX Runtime engine: logits equal dygraph at any size, the conversion is cached per checkpoint,
`tools/export.py --format onnx` writes a model ONNX Runtime (and deploy/python/infer.py) runs at any size with
dygraph's logits (1e-4) and class ids, on a 584x565 DRIVE-sized image too, `--engine onnx` runs
through tools/val.py, and missing packages / bf16 are one-line errors."""
import argparse
import os

import cv2
import numpy as np
import onnxruntime
import paddle
import pytest
import yaml

from fault_check import leftover_temps
from tool_runner import CONFIG, ENV, TINY, load_tool, run_tool, save_tiny_weights
from paddleseg_lite import cli
from paddleseg_lite.datasets.synthetic import generate_fundus
from paddleseg_lite.deploy import cache, onnx_export
from paddleseg_lite.deploy.onnx_predictor import onnx_model
from paddleseg_lite.deploy.predictor import inference_model
from paddleseg_lite.models import UNet
from paddleseg_lite.utils.errors import UserError


def tiny():
    paddle.seed(5)
    net = UNet(num_classes=2, base_channels=4)
    net.eval()
    return net


def test_onnx_logits_equal_dygraph_and_the_conversion_is_cached(monkeypatch, tmp_path):
    made, real = [], cache.convert_to_onnx
    monkeypatch.setattr(cache, "convert_to_onnx", lambda *a: made.append(a) or real(*a))
    net, root = tiny(), str(tmp_path)
    engine = onnx_model(net, cpu_threads=1, cache_dir=root)
    for shape in [(1, 3, 64, 64), (2, 3, 45, 37)]:  # dynamic batch, height and width; 45x37 not a multiple of 32
        x = paddle.to_tensor(np.random.RandomState(0).rand(*shape).astype("float32"))
        np.testing.assert_allclose(engine(x)[0].numpy(), net(x)[0].numpy(), atol=1e-4)
    assert engine.source_model is net and engine.eval() is engine  # core.memory measures the dygraph model
    again = onnx_model(net, cpu_threads=1, cache_dir=root)
    assert len(made) == 1 and again.predictor.model_dir == engine.predictor.model_dir  # a cache hit
    key = os.path.basename(engine.predictor.model_dir)
    assert key.endswith("-onnx") and sorted(os.listdir(root)) == [key[:-len("-onnx")], key]
    assert cache.cached_export(net, root=root)[1] is False  # the Paddle export it came from is cached too
    assert inference_model(net, precision="fp32", cache_dir=root)(x)[0].shape == [2, 2, 45, 37]


def drive_sized_inputs():
    """Normalised inputs: noise at two sizes (dynamic batch, height and width; 45x37 not a multiple of 32) and a
    synthetic fundus image of DRIVE's 584x565."""
    noise = [np.random.RandomState(0).rand(*shape).astype(np.float32) for shape in [(1, 3, 64, 64), (2, 3, 45, 37)]]
    fundus = generate_fundus(np.random.default_rng(0), (565, 584))[0]
    return noise + [(fundus.transpose(2, 0, 1)[np.newaxis] / 127.5 - 1).astype(np.float32)]


def test_export_format_onnx_equals_dygraph_at_any_size_and_on_a_drive_image(tmp_path):
    """ONNX Runtime on the exported file against Paddle dygraph: logits (--output_op none) within 1e-4 with the
    same argmax, and the class ids of an argmax export equal to dygraph's argmax."""
    net = save_tiny_weights(tmp_path / "model.pdparams", seed=5)
    net.eval()
    inputs = drive_sized_inputs()
    assert inputs[-1].shape == (1, 3, 584, 565)
    expected = [net(paddle.to_tensor(x))[0].numpy() for x in inputs]
    for output_op in ("none", "argmax"):
        save_dir = tmp_path / output_op
        load_tool("export").main(["--config", CONFIG, "--model_path", str(tmp_path / "model.pdparams"), "--save_dir",
                                  str(save_dir), "--format", "onnx", "--output_op", output_op, "--opts", *TINY])
        session = onnxruntime.InferenceSession(str(save_dir / "model.onnx"), providers=["CPUExecutionProvider"])
        for x, logits in zip(inputs, expected):
            out = session.run(None, {session.get_inputs()[0].name: x})[0]
            if output_op == "none":
                np.testing.assert_allclose(out, logits, atol=1e-4, rtol=0)
                out = out.argmax(axis=1)
            else:
                assert out.dtype == np.int32
            assert np.array_equal(out, logits.argmax(axis=1))
    assert sorted(os.listdir(save_dir)) == ["deploy.yaml", "model.onnx"] and not leftover_temps(str(tmp_path))
    deploy = yaml.safe_load((save_dir / "deploy.yaml").read_text())["Deploy"]
    assert deploy["model"] == "model.onnx" and "params" not in deploy and deploy["output_op"] == "argmax"
    infer = load_infer()
    cv2.imwrite(str(tmp_path / "a.png"), np.full((37, 45, 3), 128, np.uint8))
    infer.main(["--config", str(save_dir / "deploy.yaml"), "--image_path", str(tmp_path / "a.png"),
                "--save_dir", str(tmp_path / "out"), "--device", "cpu"])
    assert cv2.imread(str(tmp_path / "out" / "a.png")).shape[:2] == (37, 45)
    with pytest.raises(UserError, match="is an ONNX model: it runs fp32 on CPU"):
        infer.main(["--config", str(save_dir / "deploy.yaml"), "--image_path", str(tmp_path / "a.png"),
                    "--precision", "bf16"])


def load_infer():
    """deploy/python/infer.py's module."""
    return load_tool("infer")


def test_val_engine_onnx_runs_in_one_subprocess(tmp_path):
    weights = tmp_path / "model.pdparams"
    save_tiny_weights(weights)
    result = run_tool("val", "--model_path", weights, "--engine", "onnx")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "ONNX Runtime" in result.stdout + result.stderr and "mIoU" in result.stdout + result.stderr
    assert ENV.get("PADDLESEG_LITE_CACHE_DIR")  # the test cache (conftest), not the user's


def test_onnx_engine_refuses_bf16_and_missing_packages_before_any_work(monkeypatch):
    args = argparse.Namespace(engine="onnx", precision="bf16")
    with pytest.raises(UserError, match="--engine onnx runs fp32 only"):
        cli.load_model(None, args)  # no config touched: refused first
    real = onnx_export.importlib.import_module

    def missing(name):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real(name)
    monkeypatch.setattr(onnx_export.importlib, "import_module", missing)
    with pytest.raises(UserError, match=r"needs onnxruntime and paddle2onnx .*pip install onnxruntime"):
        cli.load_model(None, argparse.Namespace(engine="onnx", precision="fp32"))


def test_engine_auto_on_cpu_picks_onnx_for_fp32_paddle_inference_for_bf16_and_falls_back(monkeypatch, caplog):
    picked = []
    monkeypatch.setattr(cli, "load_entire_model", lambda model, path: None)
    monkeypatch.setattr(cli, "onnx_model", lambda model, **kw: picked.append("onnx") or "ort")
    monkeypatch.setattr(cli, "inference_model", lambda model, **kw: picked.append(kw["precision"]) or "pi")
    cfg = argparse.Namespace(model="net", dic={"model": {"type": "UNet"}})
    auto = lambda precision: cli.load_model(cfg, argparse.Namespace(engine="auto", precision=precision, model_path="m"))
    assert auto("fp32") == "ort" and auto("bf16") == "pi" and picked == ["onnx", "bf16"]

    def broken(model, **kw):
        raise UserError("the ONNX engine needs onnxruntime and paddle2onnx")
    monkeypatch.setattr(cli, "onnx_model", broken)
    assert auto("fp32") == "pi" and picked[-1] == "fp32"
    assert "ONNX Runtime unavailable (UserError: the ONNX engine needs" in caplog.text
    assert "using Paddle Inference" in caplog.text
