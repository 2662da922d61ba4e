"""deploy.predictor: precision/device rules, the Paddle Inference config it builds, deploy.yaml reading,
and the Predictor / PredictorModel interface on a tiny exported UNet."""
import os
import re

import numpy as np
import paddle
import pytest
import yaml

from paddleseg_lite.deploy import cache
from paddleseg_lite.deploy import predictor as P
from paddleseg_lite.deploy.export import export_model, write_deploy_yaml
from paddleseg_lite.models import UNet
from paddleseg_lite.utils import device
from paddleseg_lite.utils.cpu import available_cpus


@pytest.fixture(scope="module")
def model():
    paddle.seed(3)
    net = UNet(num_classes=2, base_channels=4)
    net.eval()
    return net


@pytest.fixture(scope="module")
def logits_dir(model, tmp_path_factory):
    """The tiny UNet exported with output_op 'none' (logits)."""
    path = tmp_path_factory.mktemp("none")
    export_model(model, str(path), transforms=[{"type": "Normalize"}], output_op="none")
    return path


def x32(seed=0, shape=(1, 3, 32, 32)):
    return np.random.RandomState(seed).uniform(-1, 1, shape).astype("float32")


def forward(model, x):
    with paddle.no_grad():
        return model(paddle.to_tensor(x))[0].numpy()


# ----------------------------------------------------------------------------- device / precision rules

def test_predictor_device_falls_back_to_cpu_with_its_own_log_line(engines, yaml_dir, monkeypatch):
    # the rule itself (utils.device.resolve_device) is tested in tests/utils/test_device.py
    messages = []
    monkeypatch.setattr(device, "gpu_available", lambda: False)
    monkeypatch.setattr(P.logger, "info", messages.append)
    predictor = P.Predictor(str(yaml_dir), device="gpu", precision="fp32")
    assert predictor.device == "cpu" and engines[0].config.called("disable_gpu") == [((), {})]
    assert messages == ["Predictor: gpu requested but no CUDA GPU is available (paddle compiled with CUDA: {}), "
                        "using cpu".format(paddle.is_compiled_with_cuda()),
                        "Predictor: {} on cpu (fp32, oneDNN)".format(os.path.join(str(yaml_dir), "net.pdmodel"))]
    with pytest.raises(ValueError, match=r"^Predictor: device must be 'cpu' or 'gpu', got 'tpu'$"):
        P.Predictor(str(yaml_dir), device="tpu")


@pytest.mark.parametrize("fast_bf16", [True, False])
def test_resolve_precision_rules(monkeypatch, fast_bf16):
    monkeypatch.setattr(P, "cpu_has_fast_bf16", lambda: fast_bf16)
    assert P.resolve_precision("auto", "cpu") == ("bf16" if fast_bf16 else "fp32")
    assert P.resolve_precision("auto", "cpu", use_onednn=False) == "fp32"
    assert [P.resolve_precision(p, "cpu") for p in ("fp32", "bf16")] == ["fp32", "bf16"]
    assert [P.resolve_precision(p, "gpu") for p in P.PRECISIONS] == ["fp32", "fp32", "fp32", "fp16", "int8"]
    for p in ("fp16", "int8"):
        with pytest.raises(ValueError, match=f"^precision {p} needs a GPU \\(TensorRT\\); on CPU use fp32 or bf16$"):
            P.resolve_precision(p, "cpu")
    with pytest.raises(ValueError, match=r"^precision bf16 on CPU needs oneDNN \(enable_mkldnn\)$"):
        P.resolve_precision("bf16", "cpu", use_onednn=False)
    with pytest.raises(ValueError, match=r"^precision must be one of auto, fp32, bf16, fp16, int8, got 'double'$"):
        P.resolve_precision("double", "cpu")


# ----------------------------------------------------------------------------- deploy.yaml

def test_load_deploy_config_from_dir_or_file(logits_dir):
    for path in (str(logits_dir), str(logits_dir / "deploy.yaml")):
        model_dir, deploy = P.load_deploy_config(path)
        assert model_dir == str(logits_dir) and deploy["output_op"] == "none"
        assert deploy["transforms"] == [{"type": "Normalize"}]


def test_load_deploy_config_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"^No deploy.yaml at {tmp_path}; export the model first"):
        P.load_deploy_config(str(tmp_path))
    for text in ("", "Other: {}\n", "Deploy: [1]\n"):
        (tmp_path / "deploy.yaml").write_text(text)
        with pytest.raises(ValueError, match="^" + re.escape(f"{tmp_path / 'deploy.yaml'} has no 'Deploy' section; "
                                                              "is it a file written by tools/export.py?") + "$"):
            P.load_deploy_config(str(tmp_path))


# ----------------------------------------------------------------------------- the inference config

@pytest.fixture
def dummy_files(tmp_path):
    for name in ("net.pdmodel", "net.pdiparams"):
        (tmp_path / name).write_bytes(b"")
    return str(tmp_path), {"model": "net.pdmodel", "params": "net.pdiparams"}


def test_cpu_config(dummy_files):
    model_dir, deploy = dummy_files
    config = P.build_config(model_dir, deploy, device="cpu", precision="fp32", cpu_threads=3)
    assert config.prog_file() == os.path.join(model_dir, "net.pdmodel")
    assert config.params_file() == os.path.join(model_dir, "net.pdiparams")
    assert not config.use_gpu() and config.ir_optim() and not config.new_ir_enabled()
    assert config.cpu_math_library_num_threads() == 3 and config.onednn_enabled()
    assert config.glog_info_disabled()
    summary = config.summary()
    assert "| memory_optim                 | true " in summary
    assert "| mkldnn_cache_capacity        | 16 " in summary
    config = P.build_config(model_dir, deploy, device="cpu", precision="fp32", use_onednn=False, print_detail=True)
    assert config.cpu_math_library_num_threads() == available_cpus()
    assert not config.onednn_enabled() and not config.glog_info_disabled()


class RecordingConfig:
    """Stands in for paddle.inference.Config where this CPU build cannot show the settings (GPU,
    TensorRT, bf16 op lists): records each method call as (name, args, kwargs)."""

    def __init__(self, *args):
        self.calls = [("Config", args, {})]

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))

    def called(self, name):
        return [(args, kwargs) for n, args, kwargs in self.calls if n == name]


@pytest.fixture
def recording(monkeypatch):
    monkeypatch.setattr(P.paddle_infer, "Config", RecordingConfig)


def test_bf16_config_runs_the_listed_ops_in_bf16(recording):
    config = P.build_config("d", {}, device="cpu", precision="bf16", cpu_threads=2)
    assert config.calls[0] == ("Config", (os.path.join("d", "model.pdmodel"), os.path.join("d", "model.pdiparams")), {})
    assert config.called("enable_onednn_bfloat16") == [((), {})]
    assert config.called("set_bfloat16_op") == [(({"conv2d", "fused_conv2d", "conv2d_transpose", "pool2d", "concat",
                                                    "relu", "bilinear_interp_v2"},), {})]
    assert config.called("enable_new_ir") == [((False,), {})] and config.called("switch_ir_optim") == [((True,), {})]
    fp32 = P.build_config("d", {}, device="cpu", precision="fp32")
    assert not fp32.called("enable_onednn_bfloat16") and not fp32.called("set_bfloat16_op")


def test_gpu_config(recording):
    config = P.build_config("d", {}, device="gpu", precision="fp32", gpu_id=1)
    assert config.called("enable_use_gpu") == [((256, 1), {})]
    assert not config.called("enable_tensorrt_engine") and not config.called("disable_gpu")
    config = P.build_config("d", {}, device="gpu", precision="fp16")
    assert config.called("enable_use_gpu") == [((256, 0), {}), ((256, 0, P.paddle_infer.PrecisionType.Half), {})]
    config = P.build_config("d", {}, device="gpu", precision="fp16", gpu_id=2)
    assert config.called("enable_use_gpu") == [((256, 2), {}), ((256, 2, P.paddle_infer.PrecisionType.Half), {})]


@pytest.mark.parametrize("precision,mode", [("fp16", "Half"), ("int8", "Int8"), ("fp32", "Float32")])
def test_tensorrt_config(recording, precision, mode):
    config = P.build_config("d", {"input_shape": [None, 3, 64, None]}, device="gpu", precision=precision,
                            use_trt=True, min_subgraph_size=5, gpu_id=2)
    assert config.called("enable_use_gpu") == [((256, 2), {})]
    assert config.called("enable_tensorrt_engine") == [((), dict(
        workspace_size=1 << 30, max_batch_size=1, min_subgraph_size=5,
        precision_mode=getattr(P.paddle_infer.PrecisionType, mode), use_static=False,
        use_calib_mode=precision == "int8"))]
    # fixed dims stay; free H/W get 32 / 512 / 2048 (min / opt / max), free N gets 1
    assert config.called("set_trt_dynamic_shape_info") == [(
        ({"x": [1, 3, 64, 32]}, {"x": [1, 3, 64, 2048]}, {"x": [1, 3, 64, 512]}), {})]


def test_tensorrt_default_shapes_and_tuned_file(recording, tmp_path):
    config = P.build_config("d", {}, device="gpu", precision="fp32", use_trt=True,
                            auto_tuned_shape_file=str(tmp_path / "missing.pbtxt"))
    assert config.called("set_trt_dynamic_shape_info") == [(
        ({"x": [1, 3, 32, 32]}, {"x": [1, 3, 2048, 2048]}, {"x": [1, 3, 512, 512]}), {})]
    assert config.called("enable_tensorrt_engine")[0][1]["min_subgraph_size"] == 3
    config = P.build_config("d", {"input_shape": [None, None, 16, None]}, device="gpu", precision="fp32",
                            use_trt=True)
    assert config.called("set_trt_dynamic_shape_info")[0][0][0] == {"x": [1, 3, 16, 32]}  # free C: 3
    tuned = tmp_path / "shapes.pbtxt"
    tuned.write_text("")
    config = P.build_config("d", {"input_shape": [2, 3, 8, 8]}, device="gpu", precision="fp32", use_trt=True,
                            auto_tuned_shape_file=str(tuned))
    assert config.called("enable_tuned_tensorrt_dynamic_shape") == [((str(tuned), True), {})]
    assert not config.called("set_trt_dynamic_shape_info")


def test_tune_trt_shapes_needs_a_gpu(monkeypatch, tmp_path):
    monkeypatch.setattr(P, "gpu_available", lambda: False)
    with pytest.raises(RuntimeError, match="^TensorRT shape tuning needs a CUDA GPU$"):
        P.tune_trt_shapes(str(tmp_path), [], str(tmp_path / "s.pbtxt"))


class RecordingEngine:
    """Stands in for a Paddle Inference predictor on a GPU: records what is fed and run."""

    def __init__(self, config):
        self.config, self.events = config, []
        self.handles = {name: self._handle(name) for name in ("x", "out")}

    def _handle(self, name):
        engine = self

        class Handle:
            def reshape(self, shape):
                engine.events.append(("reshape", name, shape))

            def copy_from_cpu(self, array):
                engine.events.append(("copy", name, array.dtype, array.flags["C_CONTIGUOUS"], array.tolist()))

            def copy_to_cpu(self):
                return np.zeros((1, 2, 2, 2), np.float32)
        return Handle()

    def get_input_names(self):
        return ["x"]

    def get_output_names(self):
        return ["out"]

    def get_input_handle(self, name):
        return self.handles[name]

    def get_output_handle(self, name):
        return self.handles[name]

    def run(self):
        self.events.append(("run",))


@pytest.fixture
def yaml_dir(tmp_path):
    """An export directory with only deploy.yaml (the recording stand-ins never read the model files)."""
    (tmp_path / "deploy.yaml").write_text(yaml.safe_dump({"Deploy": {"output_op": "none", "model": "net.pdmodel"}}))
    return tmp_path


@pytest.fixture
def engines(monkeypatch, recording):
    """Predictors get a RecordingConfig and a RecordingEngine; returns the engines made."""
    made = []
    monkeypatch.setattr(P.paddle_infer, "create_predictor", lambda config: made.append(
        RecordingEngine(config)) or made[-1])
    return made


@pytest.fixture
def fake_gpu(monkeypatch, engines):
    monkeypatch.setattr(device, "gpu_available", lambda: True)  # Predictor (resolve_device)
    monkeypatch.setattr(P, "gpu_available", lambda: True)  # tune_trt_shapes
    return engines


def test_tune_trt_shapes_runs_every_batch_and_records_shapes(fake_gpu, yaml_dir, tmp_path, monkeypatch):
    messages = []
    monkeypatch.setattr(P.logger, "info", messages.append)
    batches = [np.ones((1, 3, 2, 2)), np.zeros((2, 3, 1, 2), np.float32)[:, :, :, ::-1]]
    P.tune_trt_shapes(str(yaml_dir), batches, str(tmp_path / "s.pbtxt"))
    P.tune_trt_shapes(str(yaml_dir), [], str(tmp_path / "s.pbtxt"), gpu_id=3)
    engine, other = fake_gpu
    assert engine.config.called("enable_use_gpu") == [((256, 0), {})]
    assert other.config.called("enable_use_gpu") == [((256, 3), {})]
    assert engine.config.called("collect_shape_range_info") == [((str(tmp_path / "s.pbtxt"),), {})]
    assert not engine.config.called("enable_tensorrt_engine")
    assert engine.events == [("reshape", "x", [1, 3, 2, 2]), ("copy", "x", np.float32, True, batches[0].tolist()),
                             ("run",), ("reshape", "x", [2, 3, 1, 2]),
                             ("copy", "x", np.float32, True, batches[1].tolist()), ("run",)]
    assert messages == ["TensorRT dynamic shapes written to {}".format(tmp_path / "s.pbtxt")] * 2


def test_gpu_predictor_passes_its_options_to_the_config(fake_gpu, yaml_dir, monkeypatch):
    messages = []
    monkeypatch.setattr(P.logger, "info", messages.append)
    shapes = str(yaml_dir / "tuned.pbtxt")
    open(shapes, "w").close()
    predictor = P.Predictor(str(yaml_dir), device="gpu", precision="fp16", use_trt=True, min_subgraph_size=4,
                            auto_tuned_shape_file=shapes, gpu_id=1, print_detail=True)
    config = fake_gpu[0].config
    assert config.called("enable_use_gpu") == [((256, 1), {})]
    assert config.called("enable_tensorrt_engine")[0][1]["min_subgraph_size"] == 4
    assert config.called("enable_tensorrt_engine")[0][1]["precision_mode"] == P.paddle_infer.PrecisionType.Half
    assert not config.called("disable_glog_info")
    assert config.called("enable_tuned_tensorrt_dynamic_shape") == [((shapes, True), {})]
    assert (predictor.device, predictor.precision) == ("gpu", "fp16")
    assert messages == ["Predictor: {} on gpu (fp16, TensorRT)".format(os.path.join(str(yaml_dir), "net.pdmodel"))]
    assert predictor(np.ones((1, 3, 2, 2))).shape == (1, 2, 2, 2)
    assert fake_gpu[0].events[0] == ("reshape", "x", [1, 3, 2, 2])
    P.Predictor(str(yaml_dir), device="gpu", precision="fp32", use_trt=True)
    assert messages[-1].endswith("on gpu (fp32, TensorRT)")
    config = fake_gpu[1].config
    assert config.called("disable_glog_info") == [((), {})] and config.called("enable_use_gpu") == [((256, 0), {})]
    assert config.called("enable_tensorrt_engine")[0][1]["min_subgraph_size"] == 3
    assert not config.called("enable_tuned_tensorrt_dynamic_shape")


def test_cpu_predictor_passes_its_options_to_the_config(engines, yaml_dir):
    P.Predictor(str(yaml_dir), precision="fp32", cpu_threads=7, use_onednn=False)
    assert engines[0].config.called("set_cpu_math_library_num_threads") == [((7,), {})]
    assert engines[0].config.called("disable_onednn") == [((), {})] and not engines[0].config.called("enable_onednn")
    with pytest.raises(ValueError, match="needs oneDNN"):
        P.Predictor(str(yaml_dir), precision="bf16", use_onednn=False)


def test_native_stderr_silenced(capfd):
    with P._native_stderr_silenced(True):
        os.write(2, b"dropped ")
    os.write(2, b"kept ")
    with P._native_stderr_silenced(False):
        os.write(2, b"passed")
    with pytest.raises(KeyError), P._native_stderr_silenced(True):
        raise KeyError("x")
    os.write(2, b" restored")
    assert capfd.readouterr().err == "kept passed restored"


# ----------------------------------------------------------------------------- Predictor / PredictorModel

def test_predictor_interface(model, logits_dir, monkeypatch):
    messages = []
    monkeypatch.setattr(P.logger, "info", messages.append)
    predictor = P.Predictor(str(logits_dir), precision="fp32", cpu_threads=1)
    assert messages == ["Predictor: {} on cpu (fp32, oneDNN)".format(os.path.join(str(logits_dir), "model.pdmodel"))]
    assert predictor.transforms == [{"type": "Normalize"}] and predictor.output_op == "none"
    x = x32(1, (2, 3, 32, 32))
    out = predictor(paddle.to_tensor(x.astype("float64")))  # a float64 tensor is fed as float32
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, forward(model, x), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match=r"^Predictor expects N×C×H×W images, got shape \(3, 32, 32\)$"):
        predictor(x[0])
    P.Predictor(str(logits_dir), precision="fp32", use_onednn=False, cpu_threads=1)
    assert messages[-1].endswith("on cpu (fp32)")


def test_print_detail_keeps_paddle_inference_output(logits_dir, capfd):
    P.Predictor(str(logits_dir), precision="fp32", cpu_threads=1)
    assert "Running IR pass" not in capfd.readouterr().err
    P.Predictor(str(logits_dir), precision="fp32", cpu_threads=1, print_detail=True)
    assert "Running IR pass" in capfd.readouterr().err


def test_predictor_defaults_without_output_op(model, logits_dir, tmp_path, monkeypatch):
    messages = []
    monkeypatch.setattr(P.logger, "info", messages.append)
    for name in ("model.pdmodel", "model.pdiparams"):
        os.link(logits_dir / name, tmp_path / name)
    (tmp_path / "deploy.yaml").write_text(yaml.safe_dump({"Deploy": {}}))  # default file names, output_op
    predictor = P.Predictor(str(tmp_path), precision="fp32", cpu_threads=1)
    assert predictor.output_op == "argmax" and predictor.transforms == []
    assert messages == ["Predictor: {} on cpu (fp32, oneDNN)".format(os.path.join(str(tmp_path), "model.pdmodel"))]
    with pytest.raises(ValueError, match=r"^PredictorModel needs logits: export with output_op='none' \(got 'argmax'\)$"):
        P.PredictorModel(predictor)


@pytest.mark.skipif(not P.cpu_has_fast_bf16(), reason="CPU without native bf16")
def test_auto_precision_runs_bf16(model, logits_dir, capfd):
    predictor = P.Predictor(str(logits_dir), precision="auto", cpu_threads=1)
    assert predictor.precision == "bf16"
    assert "bfloat16" not in capfd.readouterr().err  # the bf16 passes' statistics are silenced
    x = x32(2)
    out, ref = predictor(x), forward(model, x)
    assert 0 < np.abs(out - ref).max() < 0.1  # bf16 rounding shows, but stays small


def test_predictor_model_plays_an_eval_only_model(model, logits_dir):
    engine = P.PredictorModel(P.Predictor(str(logits_dir), precision="fp32", cpu_threads=1))
    assert engine.eval() is engine and engine.train(False) is engine and engine.training is False
    with pytest.raises(RuntimeError, match="^An inference-engine model cannot be trained$"):
        engine.train()
    out = engine(paddle.to_tensor(x32(3)))
    assert isinstance(out, list) and len(out) == 1 and isinstance(out[0], paddle.Tensor)
    np.testing.assert_allclose(out[0].numpy(), forward(model, x32(3)), atol=1e-4, rtol=0)


def test_inference_model_exports_logits_once_and_forwards_options(model, engines, monkeypatch, tmp_path):
    exports = []

    def export(net, save_dir, transforms, input_shape, output_op, stages):  # the real export: test_export.py
        exports.append((net, output_op))
        write_deploy_yaml(save_dir, [], output_op=output_op)
        for name in ("model.pdmodel", "model.pdiparams"):
            open(os.path.join(save_dir, name), "w").close()
    monkeypatch.setattr(cache, "export_model", export)
    engine = P.inference_model(model, cpu_threads=7, cache_dir=str(tmp_path))
    assert exports == [(model, "none")]
    assert engines[0].config.called("set_cpu_math_library_num_threads") == [((7,), {})]
    assert engine.predictor.precision == "fp32"  # the default: the dygraph model's predictions
    assert engine.predictor.device == "cpu" and engine.predictor.output_op == "none"
    assert os.path.dirname(engine.predictor.model_dir) == str(tmp_path)
    engine = P.inference_model(model, precision="auto", cpu_threads=3, cache_dir=str(tmp_path))
    assert len(exports) == 1  # the same weights: the cached export
    assert engines[1].config.called("set_cpu_math_library_num_threads") == [((3,), {})]
    assert engine.predictor.precision == ("bf16" if P.cpu_has_fast_bf16() else "fp32")
    monkeypatch.setattr(device, "gpu_available", lambda: True)
    assert P.inference_model(model, device="gpu", cache_dir=str(tmp_path)).predictor.device == "gpu"
