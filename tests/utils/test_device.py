import paddle
import pytest

from paddleseg_lite.utils import device


@pytest.mark.parametrize("who", ["--device", "Predictor"])
def test_gpu_falls_back_to_cpu_with_a_log_line(monkeypatch, who):
    lines = []
    monkeypatch.setattr(device, "gpu_available", lambda: False)
    monkeypatch.setattr(device.logger, "info", lines.append)
    args = ("gpu",) if who == "--device" else ("gpu", who)  # '--device' is the default
    assert device.resolve_device(*args) == "cpu"
    assert lines == ["{}: gpu requested but no CUDA GPU is available (paddle compiled with CUDA: {}), using cpu".format(
        who, paddle.is_compiled_with_cuda())]
    assert device.resolve_device("cpu", who) == "cpu" and len(lines) == 1


def test_gpu_is_kept_when_available(monkeypatch):
    lines = []
    monkeypatch.setattr(device, "gpu_available", lambda: True)
    monkeypatch.setattr(device.logger, "info", lines.append)
    assert device.resolve_device("gpu") == "gpu" and device.resolve_device("cpu") == "cpu"
    assert lines == []


@pytest.mark.parametrize("who,bad", [("--device", "tpu"), ("Predictor", "tpu"), ("--device", "GPU"),
                                     ("--device", None)])
def test_unknown_device_is_refused(who, bad):
    with pytest.raises(ValueError) as err:
        device.resolve_device(bad, who)
    assert str(err.value) == "{}: device must be 'cpu' or 'gpu', got {!r}".format(who, bad)


def test_unknown_device_message_names_the_flag_by_default():
    with pytest.raises(ValueError, match=r"^--device: device must be 'cpu' or 'gpu', got 'tpu'$"):
        device.resolve_device("tpu")


@pytest.mark.parametrize("cuda,count,want", [(True, 1, True), (True, 0, False), (False, 1, False)])
def test_gpu_available_needs_cuda_build_and_a_device(monkeypatch, cuda, count, want):
    monkeypatch.setattr(paddle, "is_compiled_with_cuda", lambda: cuda)
    monkeypatch.setattr(paddle.device.cuda, "device_count", lambda: count)
    assert device.gpu_available() is want
