"""What the CPU offers, and the CPU speed setup for training and evaluation.

Paddle's dygraph CPU kernels (conv via its own im2col+GEMM) run on ONE thread unless told
otherwise, whatever the core count. `setup_cpu_threads` gives them every CPU this process may
use, which changes no result beyond float summation order. `cpu_has_fast_bf16` is the one test
of native bf16 (the static training step's and Paddle Inference's precision 'auto').
"""
import os

import paddle

from paddleseg_lite.utils import logger


def available_cpus():
    """The number of CPUs this process may run on (affinity mask aware, e.g. in containers)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_has_fast_bf16():
    """True when oneDNN can run bf16 natively here (AVX512-BF16 / AMX), not by emulation."""
    core = paddle.base.core
    return bool(core.is_compiled_with_onednn() and core.supports_bfloat16_fast_performance())


def setup_cpu_threads(num_threads=None):
    """Let Paddle's CPU kernels use `num_threads` threads (default: all available CPUs).

    OMP_NUM_THREADS cannot express a choice here: `import paddle` sets it to 1 when unset. Call
    once, before the first forward pass; it does nothing on a GPU device.

    Args:
        num_threads (int, optional): Threads for CPU ops.

    Returns:
        int: The thread count applied (0 when the device is not CPU).
    """
    if not paddle.get_device().startswith("cpu"):
        return 0
    num_threads = num_threads or available_cpus()
    paddle.base.core.set_num_threads(num_threads)
    logger.info("CPU: {} thread(s) for Paddle ops ({} available)".format(
        num_threads, available_cpus()))
    return num_threads
