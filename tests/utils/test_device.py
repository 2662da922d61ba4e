import pytest

from paddleseg_lite.utils import device


def test_gpu_falls_back_to_cpu_with_a_log_line(monkeypatch):
    lines = []
    monkeypatch.setattr(device, "gpu_available", lambda: False)
    monkeypatch.setattr(device.logger, "info", lines.append)
    assert device.resolve_device("gpu", "Predictor") == "cpu"
    assert len(lines) == 1 and lines[0].startswith("Predictor: gpu requested but no CUDA GPU")
    assert device.resolve_device("cpu") == "cpu" and len(lines) == 1


def test_gpu_is_kept_when_available(monkeypatch):
    monkeypatch.setattr(device, "gpu_available", lambda: True)
    assert device.resolve_device("gpu") == "gpu"


def test_unknown_device_is_refused():
    with pytest.raises(ValueError, match="Predictor: device must be 'cpu' or 'gpu', got 'tpu'"):
        device.resolve_device("tpu", "Predictor")
