"""Run tools/*.py in subprocesses on the quickstart config shrunk to tiny sizes (for the engine tests)."""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CONFIG = os.path.join(ROOT, "configs", "quickstart", "unet_synthetic_vessels.yml")
TINY = ["model.base_channels=4", "train_dataset.image_size=32", "val_dataset.image_size=32",
        "train_dataset.num_samples=16", "val_dataset.num_samples=4", "batch_size=2"]
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
TRAIN_LINE = re.compile(r"^\[\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\] INFO: \[TRAIN\] epoch: (\d+), iter: (\d+)/(\d+), "
                        r"loss: (\d+\.\d{4}), lr: (\d+\.\d{6}), batch_cost: \d+\.\d{4}, reader_cost: \d+\.\d{5}, "
                        r"ips: \d+\.\d{4} samples/sec \| ETA \d\d:\d\d:\d\d$", re.M)


def tool_cmd(tool, *args, opts=()):
    """The command line of tools/<tool>.py on the tiny config, on the CPU."""
    return [sys.executable, os.path.join(ROOT, "tools", tool + ".py"), "--config", CONFIG, "--device", "cpu",
            *map(str, args), "--opts", *TINY, *opts]


def run_tool(tool, *args, opts=(), timeout=180):
    """Run a tool to completion; returns the CompletedProcess (text stdout/stderr)."""
    return subprocess.run(tool_cmd(tool, *args, opts=opts), capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env=ENV)


def train_losses(text):
    """{iter: loss string} of the [TRAIN] lines in a log."""
    return {int(m.group(2)): m.group(4) for m in TRAIN_LINE.finditer(text)}


def final_checksum(text):
    return re.search(r"Final weights checksum: ([0-9a-f]+)", text).group(1)


def load_tool(tool):
    """The module of tools/<tool>.py (or deploy/python/infer.py: "infer"), paddleseg_lite.cli.<tool>, to call
    its `main(argv)` in-process."""
    import importlib
    return importlib.import_module("paddleseg_lite.cli." + tool)


def save_tiny_weights(path, seed=0):
    """Weights of the tiny config's model (UNet, base_channels 4), saved with paddle.save; returns the model."""
    import paddle
    from paddleseg_lite.models import UNet
    paddle.seed(seed)
    model = UNet(num_classes=2, base_channels=4)
    paddle.save(model.state_dict(), str(path))
    return model
