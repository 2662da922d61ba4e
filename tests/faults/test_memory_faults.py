"""Fault category 7, resource limits: a whole-image forward pass that would not fit in memory switches to
sliding windows (one log line) in val, predict and the evaluation inside training; a window that would
not fit is refused naming --crop_size / --stride. The available memory is faked with
PADDLESEG_LITE_AVAILABLE_MEMORY, so no test needs much memory."""
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import paddle
import pytest

from fault_check import assert_one_error
from paddleseg_lite.core import infer, memory
from paddleseg_lite.models import UNet
from paddleseg_lite.registry import MODELS
from paddleseg_lite.utils.errors import UserError
from tool_runner import ENV, ROOT, save_tiny_weights, tool_cmd

# UNet(base_channels=4) allocates ~386 bytes per pixel: a 64x64 image needs ~1.5 MiB whole, ~0.55 MiB with
# 32x32 windows (window + full-size buffers); 700K (80% usable) fits the windows, not the whole image.
TIGHT = "700K"
SWITCH = "using sliding-window inference (--is_slide --crop_size 32 32 --stride 24 24)"


@pytest.fixture
def unet():
    paddle.seed(0)
    model = UNet(num_classes=2, base_channels=4)
    model.eval()
    return model


@pytest.fixture(autouse=True)
def fresh_announcements(monkeypatch):
    monkeypatch.setattr(memory, "_announced", set())


def image(size=64, seed=0):
    return paddle.to_tensor(np.random.default_rng(seed).normal(size=(1, 3, size, size)).astype("float32"))


def numpy_slide(model, x, crop, stride):
    """Sliding-window logits computed window by window: every window's dygraph logits summed in numpy,
    divided by the per-pixel window count."""
    size = x.shape[2]
    starts = sorted({min(i * stride, size - crop) for i in range(-(-(size - crop) // stride) + 1)})
    total, count = np.zeros((1, 2, size, size)), np.zeros((size, size))
    for top in starts:
        for left in starts:
            window = paddle.to_tensor(x[:, :, top:top + crop, left:left + crop])
            total[:, :, top:top + crop, left:left + crop] += model(window)[0].numpy()
            count[top:top + crop, left:left + crop] += 1
    return total / count


def test_too_little_memory_switches_to_sliding_windows(unet, monkeypatch, log_lines):
    im = image()
    monkeypatch.setenv(memory.AVAILABLE_ENV, TIGHT)
    got = infer.inference(unet, im).numpy()
    assert [line for line in log_lines if "sliding-window" in line] == [
        "Whole-image inference of a 64x64 image needs ~1.5 MiB, with ~700.0 KiB available "
        "(PADDLESEG_LITE_AVAILABLE_MEMORY): " + SWITCH]
    with paddle.no_grad():
        want = numpy_slide(unet, im.numpy(), crop=32, stride=24)  # windows at 0, 24, 32
        whole = unet(im)[0].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert not np.allclose(got, whole, atol=1e-3)  # the windows really were used
    assert memory.window_batch(unet, im, (32, 32), infer._run_model) == 1  # one window per pass fits, not two
    infer.aug_inference(unet, im, flip_horizontal=True)  # same size again: no second line
    assert len([line for line in log_lines if "sliding-window" in line]) == 1

    monkeypatch.setenv(memory.AVAILABLE_ENV, "64G")
    np.testing.assert_array_equal(infer.inference(unet, im).numpy(), whole)
    assert memory.window_batch(unet, im, (32, 32), infer._run_model) == memory.WINDOW_BATCH


def test_the_reported_3000px_image_plans_1024px_windows_without_running_it(monkeypatch, log_lines):
    """The issue's case: base_channels 64 needs ~16x the ~3.2 GiB of base_channels 4; only the probe runs."""
    im = paddle.zeros([1, 3, 3000, 3000])
    monkeypatch.setenv(memory.AVAILABLE_ENV, "8G")
    plans = {}
    for base in (4, 64):
        model = UNet(num_classes=2, base_channels=base)
        model.eval()
        with paddle.no_grad():
            plans[base] = memory.whole_image_window(model, im, infer._run_model)
    assert plans == {4: None, 64: ((1024, 1024), (768, 768))}  # ~3.24 GiB fits in 80% of 8 GiB
    assert log_lines == ["Whole-image inference of a 3000x3000 image needs ~51.83 GiB, with ~8.00 GiB available "
                         "(PADDLESEG_LITE_AVAILABLE_MEMORY): using sliding-window inference (--is_slide --crop_size "
                         "1024 1024 --stride 768 768)"]


def test_refusals_name_the_fix(unet, monkeypatch):
    monkeypatch.setenv(memory.AVAILABLE_ENV, TIGHT)
    with pytest.raises(UserError, match=r"^test_config.crop_size \(--crop_size\) 64x64: .* needs ~1.7 MiB, with "
                                        r"~700.0 KiB available .*; use --is_slide --crop_size 32 32 --stride 24 24$"):
        infer.inference(unet, image(), is_slide=True, crop_size=(64, 64), stride=(32, 32))
    infer.inference(unet, image(), is_slide=True, crop_size=(32, 32), stride=(16, 16))  # fits
    monkeypatch.setenv(memory.AVAILABLE_ENV, "10K")
    with pytest.raises(UserError, match="Not enough memory for a 64x64 image: .* even 32x32 sliding windows .* "
                                        "free memory or resize the image"):
        infer.inference(unet, image())
    monkeypatch.setenv(memory.AVAILABLE_ENV, "lots")
    with pytest.raises(UserError, match="PADDLESEG_LITE_AVAILABLE_MEMORY='lots': expected a byte count such as 2G"):
        infer.inference(unet, image())


def test_available_memory_reads_meminfo_and_the_cgroup_limit(tmp_path, monkeypatch):
    cpu = paddle.CPUPlace()
    monkeypatch.delenv(memory.AVAILABLE_ENV, raising=False)
    v2, v1 = tmp_path / "v2", tmp_path / "v1"
    for folder, files in ((v2, {"memory.max": "max\n", "memory.current": "5\n"}),
                          (v1, {"memory.limit_in_bytes": "1000000\n", "memory.usage_in_bytes": "400000\n",
                                "memory.stat": "cache 9\ntotal_inactive_file 100000\n"})):
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text)
    meminfo = memory._read_numbers("/proc/meminfo").get("MemAvailable")
    monkeypatch.setattr(memory, "_cgroup_dirs", lambda: {str(v2)})  # no limit: MemAvailable
    assert memory.available_memory(cpu) == (meminfo * 1024 if meminfo else memory._host_available())
    monkeypatch.setattr(memory, "_cgroup_dirs", lambda: {str(v1), str(v2)})
    assert memory.available_memory(cpu) == 700000  # limit - usage + inactive page cache
    for text, want in (("2G", 2 ** 31), ("1.5 MiB", 3 * 2 ** 19), ("123", 123)):
        monkeypatch.setenv(memory.AVAILABLE_ENV, text)
        assert memory.available_memory(cpu) == want


@pytest.mark.parametrize("name", sorted(MODELS.components_dict))
def test_probe_cost_scales_with_pixels_for_every_registered_model(name):
    """The per-pixel cost measured on the 32x32 probe predicts a 96x80 forward pass's peak allocation."""
    paddle.seed(0)
    model = MODELS[name](num_classes=2, base_channels=4)
    model.eval()
    im = paddle.zeros([1, 3, 96, 80])
    with paddle.no_grad():
        cost, channels = memory.forward_cost(model, im, infer._run_model)
        before = memory._allocated(im.place, "current")
        memory._allocated(im.place, "reset_peak")
        model(im)
        peak = memory._allocated(im.place, "peak") - before
    assert channels == 2 and cost > 0
    assert 0.9 < cost * 96 * 80 / peak < 1.25, (cost * 96 * 80, peak)


RSS_PROBE = textwrap.dedent("""
    import re, paddle
    from paddleseg_lite.core import infer, memory
    from paddleseg_lite.models import UNet

    def status(key):
        return int(re.search(key + r":\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) * 1024

    paddle.seed(0)
    model = UNet(num_classes=2, base_channels=4)
    model.eval()
    im = paddle.zeros([1, 3, 512, 512])
    with paddle.no_grad():
        model(paddle.zeros([1, 3, 64, 64]))  # load the kernels first
        estimate = memory.forward_cost(model, im, infer._run_model)[0] * 512 * 512
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
        start = status("VmRSS")
        model(im)
    print(estimate, status("VmHWM") - start)
""")


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux's /proc/self/clear_refs")
def test_estimate_is_within_a_factor_two_of_the_peak_rss_growth():
    proc = subprocess.run([sys.executable, "-c", RSS_PROBE], capture_output=True, text=True, cwd=ROOT,
                          env=dict(ENV, PYTHONPATH=ROOT), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    estimate, growth = map(float, proc.stdout.split()[-2:])
    assert 0.5 < estimate / growth < 2, (estimate, growth)


def run_tight(tool, *args, opts=()):
    """tools/<tool>.py on the tiny config with 64x64 validation images and TIGHT memory."""
    return subprocess.run(tool_cmd(tool, *args, opts=["val_dataset.image_size=64", *opts]), capture_output=True,
                          text=True, timeout=180, cwd=ROOT, env=dict(ENV, **{memory.AVAILABLE_ENV: TIGHT}))


def test_tools_switch_or_refuse_under_a_tight_budget(tmp_path):
    """The evaluation inside training and predict (on the Paddle Inference engine) switch to windows,
    one line each; val refuses an explicit window too large with the flags that fit."""
    train = run_tight("train", "--iters", 2, "--save_interval", 2, "--do_eval", "--save_dir", tmp_path / "out")
    assert train.returncode == 0, train.stderr[-2000:]
    assert train.stdout.count(SWITCH) == 1 and "[EVAL] #Images: 4" in train.stdout
    weights = tmp_path / "model.pdparams"
    save_tiny_weights(weights)
    cv2.imwrite(str(tmp_path / "eye.png"), np.full((64, 64, 3), 90, np.uint8))
    predict = run_tight("predict", "--model_path", weights, "--image_path", tmp_path / "eye.png",
                        "--save_dir", tmp_path / "result")
    assert predict.returncode == 0, predict.stderr[-2000:]
    assert "Predictor:" in predict.stdout  # the Paddle Inference engine: measured on its source model
    assert predict.stdout.count(SWITCH) == 1 and os.listdir(tmp_path / "result" / "added_prediction") == ["eye.png"]
    val = run_tight("val", "--model_path", weights, "--is_slide", "--crop_size", 64, 64, "--stride", 32, 32,
                    "--engine", "dygraph")
    assert_one_error(val, "--crop_size", "--is_slide --crop_size 32 32 --stride 24 24")
