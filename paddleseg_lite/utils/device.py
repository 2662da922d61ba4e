"""Choosing the device: 'gpu' falls back to 'cpu' (with a log line) when no CUDA GPU is usable.

Used by the tools (`cli.set_device`) and the Paddle Inference predictor (`deploy.predictor`).
"""
import paddle

from paddleseg_lite.utils import logger

DEVICES = ("cpu", "gpu")


def gpu_available():
    """True when this Paddle build has CUDA and a GPU is visible."""
    return paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


def resolve_device(device, who="--device"):
    """'cpu' or 'gpu': `device`, except that 'gpu' becomes 'cpu' with a log line (naming `who`, the flag
    or class that asked) when no GPU is usable.

    Raises:
        ValueError: `device` is neither 'cpu' nor 'gpu'.
    """
    if device not in DEVICES:
        raise ValueError("{}: device must be 'cpu' or 'gpu', got {!r}".format(who, device))
    if device == "gpu" and not gpu_available():
        logger.info("{}: gpu requested but no CUDA GPU is available (paddle compiled with CUDA: {}), using cpu".format(
            who, paddle.is_compiled_with_cuda()))
        return "cpu"
    return device
