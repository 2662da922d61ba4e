"""PaddleSeg's other tool flags (cli/paddleseg_flags.py): taken with PaddleSeg's meaning (--use_ema,
--repeats, --profiler_options, --data_format NCHW, --device_id, --for_fd), or one line saying why not."""
import os

import numpy as np
import paddle
import pytest
import yaml

from paddleseg_lite.cli import paddleseg_flags
from paddleseg_lite.deploy import Predictor
from paddleseg_lite.utils.errors import UserError
from tool_runner import CONFIG, TINY, load_tool, run_tool, save_tiny_weights

NHWC = ("--data_format NHWC: paddleseg_lite's models take NCHW input only (PaddleSeg accepts NHWC for DeepLabV3P "
        "alone); leave the flag out")
MULTILABEL = ("--use_multilabel: multilabel mode (several classes per pixel, one sigmoid each) is not supported; "
              "paddleseg_lite's models give one class per pixel (softmax, or one sigmoid channel for two classes)")


def test_train_takes_use_ema_repeats_and_nchw_and_records_the_knobs(tmp_path):
    proc = run_tool("train", "--iters", 2, "--save_interval", 2, "--log_iters", 1, "--seed", 1, "--use_ema",
                    "--repeats", 3, "--data_format", "NCHW", "--save_dir", tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    saved = yaml.safe_load((tmp_path / "config.yml").read_text())
    assert (saved["use_ema"], saved["repeats"]) == (True, 3)
    assert "ema_model.pdparams" in os.listdir(tmp_path / "iter_2")


@pytest.mark.parametrize("tool, argv, message", [
    ("train", ["--data_format", "NHWC"], NHWC),
    ("val", ["--model_path", "m.pdparams", "--data_format", "NHWC"], NHWC),
    ("train", ["--use_multilabel"], MULTILABEL),
    ("val", ["--model_path", "m.pdparams", "--use_multilabel"], MULTILABEL),
    ("predict", ["--model_path", "m.pdparams", "--image_path", "x.png", "--use_multilabel"], MULTILABEL),
    ("train", ["--profiler_options", "batch_range=[5]"], "--profiler_options 'batch_range=[5]': batch_range must be "
     "[start, end] with 0 <= start < end, got [5]; e.g. \"batch_range=[10,20];timer_only=False\""),
    ("train", ["--profiler_options", "timer_only"], "--profiler_options 'timer_only': item 'timer_only' must look "
     "like key=value; e.g. \"batch_range=[10,20];timer_only=False\""),
    ("export", ["--for_fd", "--format", "onnx"], "--for_fd names a Paddle Inference export for FastDeploy "
     "(inference.pdmodel, inference.pdiparams, inference.yml); it does not apply to --format onnx"),
    ("train", ["--device", "xpu"], "--device xpu: this PaddlePaddle build has no XPU support; install PaddlePaddle's "
     "XPU build (paddlepaddle.org.cn) or use --device cpu|gpu"),
])
def test_flags_that_cannot_take_effect_are_one_line_errors(tmp_path, tool, argv, message):
    if "--device" in argv and paddle.is_compiled_with_xpu():
        pytest.skip("this PaddlePaddle build has XPU support")
    device = [] if "--device" in argv or tool == "export" else ["--device", "cpu"]
    with pytest.raises(UserError) as error:
        load_tool(tool).main(["--config", CONFIG, "--save_dir", str(tmp_path / "out"), *device, *argv])
    assert str(error.value) == message
    assert not os.path.exists(tmp_path / "out" / "config.yml")


def test_device_id_selects_the_card_and_is_checked(monkeypatch):
    monkeypatch.setattr(paddleseg_flags.paddle.device.cuda, "device_count", lambda: 2)
    assert paddleseg_flags.device_place("gpu", 1) == "gpu:1" and paddleseg_flags.device_place("gpu") == "gpu"
    assert paddleseg_flags.device_place("cpu", 0) == "cpu"
    with pytest.raises(UserError) as error:
        paddleseg_flags.device_place("gpu", 2)
    assert str(error.value) == "--device_id 2: gpu has 2 visible device(s) (ids 0..1)"
    assert load_tool("predict").parse_args(["--config", "c.yml", "--model_path", "m", "--image_path", "i",
                                            "--device_id", "1"]).device_id == 1


def test_for_fd_writes_fastdeploy_names_that_infer_reads(tmp_path):
    save_tiny_weights(tmp_path / "model.pdparams")
    load_tool("export").main(["--config", CONFIG, "--model_path", str(tmp_path / "model.pdparams"), "--save_dir",
                              str(tmp_path / "fd"), "--for_fd", "--opts", *TINY])
    assert sorted(os.listdir(tmp_path / "fd")) == ["inference.pdiparams", "inference.pdiparams.info",
                                                   "inference.pdmodel", "inference.yml"]
    deploy = yaml.safe_load((tmp_path / "fd" / "inference.yml").read_text())["Deploy"]
    assert (deploy["model"], deploy["params"]) == ("inference.pdmodel", "inference.pdiparams")
    out = Predictor(str(tmp_path / "fd" / "inference.yml"), device="cpu")(np.zeros((1, 3, 32, 32), "float32"))
    assert np.asarray(out).shape == (1, 32, 32)
