"""Run an exported model (deploy.export) with Paddle Inference.

Flow: `export_model` → save_dir (model.pdmodel, model.pdiparams, deploy.yaml) → `Predictor` →
N×C×H×W float32 arrays in, class ids / probabilities / logits out (per deploy.yaml `output_op`).
`PredictorModel` gives a Predictor the interface of a model for core.infer / core.val / core.predict.

On CPU the predictor runs through oneDNN in fp32 by default (`precision='fp32'`: the predictions of the
dygraph model, as tools/val.py and tools/predict.py give by default); `precision='bf16'` asks for
bfloat16, and `precision='auto'` takes it when the CPU has native bf16 (AVX512-BF16 or AMX). The old (non-PIR) executor is used because oneDNN's bilinear_interp fails under PIR in
Paddle 3.3. On GPU, Paddle Inference's GPU kernels or TensorRT (`use_trt=True`) are used; without a
usable GPU it falls back to CPU with a log line.
"""
import contextlib
import os
import sys

import numpy as np
import paddle
import paddle.inference as paddle_infer
import yaml

from paddleseg_lite.deploy.cache import cached_export
from paddleseg_lite.deploy.export import DEPLOY_FILE, MODEL_FILE, PARAMS_FILE
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.cpu import available_cpus, cpu_has_fast_bf16
from paddleseg_lite.utils.device import gpu_available, resolve_device
from paddleseg_lite.utils.validate import check_choice

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
# Ops run in bf16 under oneDNN. elementwise_add (conv bias) and batch_norm have no working bf16
# path in Paddle 3.3 ("data type bfloat16 does not match float32" / "no kernels"); softmax and topk
# stay fp32 so probabilities keep full precision.
BF16_OPS = {"conv2d", "fused_conv2d", "conv2d_transpose", "pool2d", "concat", "relu", "bilinear_interp_v2"}
TRT_PRECISIONS = {"fp32": paddle_infer.PrecisionType.Float32, "fp16": paddle_infer.PrecisionType.Half,
                  "int8": paddle_infer.PrecisionType.Int8}
ONEDNN_CACHE_SHAPES = 16  # oneDNN primitives are cached per input shape; bound the cache


def resolve_precision(precision, device, use_onednn=True):
    """Turn 'auto' into a concrete precision and check the choice is possible on `device`.

    Returns:
        str: 'fp32' or 'bf16' on CPU; 'fp32', 'fp16' or 'int8' on GPU.
    """
    check_choice(None, "precision", precision, PRECISIONS)
    if device == "gpu":
        return "fp32" if precision in ("auto", "bf16") else precision
    if precision in ("fp16", "int8"):
        raise ValueError("precision {} needs a GPU (TensorRT); on CPU use fp32 or bf16".format(precision))
    if precision == "auto":
        return "bf16" if use_onednn and cpu_has_fast_bf16() else "fp32"
    if precision == "bf16" and not use_onednn:
        raise ValueError("precision bf16 on CPU needs oneDNN (enable_mkldnn)")
    return precision


def load_deploy_config(path):
    """Read deploy.yaml (a file, or the export directory holding it) → (model_dir, Deploy dict)."""
    yaml_path = os.path.join(path, DEPLOY_FILE) if os.path.isdir(path) else path
    if not os.path.isfile(yaml_path):
        raise FileNotFoundError("No deploy.yaml at {}; export the model first with tools/export.py".format(path))
    with open(yaml_path, encoding="utf-8") as f:
        deploy = (yaml.safe_load(f) or {}).get("Deploy")
    if not isinstance(deploy, dict):
        raise ValueError("{} has no 'Deploy' section; is it a file written by tools/export.py?".format(yaml_path))
    return os.path.dirname(os.path.abspath(yaml_path)), deploy


def _trt_shape_info(config, input_shape, auto_tuned_shape_file):
    """Dynamic-shape ranges for TensorRT: a tuned file when given, else a wide static range."""
    if auto_tuned_shape_file and os.path.isfile(auto_tuned_shape_file):
        config.enable_tuned_tensorrt_dynamic_shape(auto_tuned_shape_file, True)
        return
    n, c, h, w = [s or d for s, d in zip(input_shape, (1, 3, None, None))]
    min_hw = [h or 32, w or 32]
    opt_hw = [h or 512, w or 512]
    max_hw = [h or 2048, w or 2048]
    config.set_trt_dynamic_shape_info({"x": [n, c] + min_hw}, {"x": [n, c] + max_hw}, {"x": [n, c] + opt_hw})


def _gpu_config(config, options, input_shape):
    config.enable_use_gpu(256, options.get("gpu_id", 0))
    if options.get("use_trt"):
        config.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=1,
                                      min_subgraph_size=options.get("min_subgraph_size", 3),
                                      precision_mode=TRT_PRECISIONS[options["precision"]],
                                      use_static=False, use_calib_mode=options["precision"] == "int8")
        _trt_shape_info(config, input_shape, options.get("auto_tuned_shape_file"))
    elif options["precision"] == "fp16":
        config.enable_use_gpu(256, options.get("gpu_id", 0), paddle_infer.PrecisionType.Half)


def _cpu_config(config, options):
    config.disable_gpu()
    config.set_cpu_math_library_num_threads(options.get("cpu_threads") or available_cpus())
    if options.get("use_onednn", True):
        config.enable_onednn()
        config.set_onednn_cache_capacity(ONEDNN_CACHE_SHAPES)
        if options["precision"] == "bf16":
            config.enable_onednn_bfloat16()
            config.set_bfloat16_op(set(BF16_OPS))
    else:
        config.disable_onednn()  # Paddle Inference enables oneDNN by default


def build_config(model_dir, deploy, **options):
    """A paddle.inference.Config for the exported model in `model_dir` (see `Predictor` for options)."""
    config = paddle_infer.Config(os.path.join(model_dir, deploy.get("model", MODEL_FILE)),
                                 os.path.join(model_dir, deploy.get("params", PARAMS_FILE)))
    config.enable_new_ir(False)
    config.switch_ir_optim(True)
    config.enable_memory_optim()
    if not options.get("print_detail", False):
        config.disable_glog_info()
    if options["device"] == "gpu":
        _gpu_config(config, options, deploy.get("input_shape") or [None, 3, None, None])
    else:
        _cpu_config(config, options)
    return config


def tune_trt_shapes(path, image_batches, shape_file, gpu_id=0):
    """Run `image_batches` (N×C×H×W float32 arrays) on GPU and record TensorRT dynamic-shape ranges.

    The file is then given to `Predictor(..., use_trt=True, auto_tuned_shape_file=shape_file)`.
    """
    if not gpu_available():
        raise RuntimeError("TensorRT shape tuning needs a CUDA GPU")
    model_dir, deploy = load_deploy_config(path)
    config = build_config(model_dir, deploy, device="gpu", precision="fp32", gpu_id=gpu_id)
    config.collect_shape_range_info(shape_file)
    predictor = paddle_infer.create_predictor(config)
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    for images in image_batches:
        handle.reshape(list(images.shape))
        handle.copy_from_cpu(np.ascontiguousarray(images, dtype=np.float32))
        predictor.run()
    logger.info("TensorRT dynamic shapes written to {}".format(shape_file))


@contextlib.contextmanager
def _native_stderr_silenced(silence):
    """Drop what C++ code writes to stderr meanwhile (Paddle's IR passes print statistics there even
    with glog info disabled); Python exceptions still carry their messages."""
    if not silence:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def as_batch(images):
    """An N×C×H×W float32 array or paddle Tensor as a contiguous float32 numpy array (what engines take)."""
    if isinstance(images, paddle.Tensor):
        images = images.numpy()
    images = np.ascontiguousarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError("Predictor expects N×C×H×W images, got shape {}".format(images.shape))
    return images


class Predictor:
    """An exported segmentation model run by Paddle Inference.

    Args:
        path (str): The export directory or its deploy.yaml.
        device (str): 'cpu' or 'gpu' (falls back to cpu when no GPU is usable).
        precision (str): 'fp32' (default), 'bf16' (CPU, oneDNN), 'fp16' / 'int8' (GPU), or 'auto' (CPU: bf16
            when the CPU has native bf16, else fp32; GPU: fp32).
        cpu_threads (int, optional): Math-library threads on CPU; default: all CPUs this process may use.
        use_onednn (bool): Use oneDNN on CPU (default; several times faster than without).
        use_trt (bool): Use TensorRT subgraphs on GPU.
        min_subgraph_size (int): Smallest TensorRT subgraph.
        auto_tuned_shape_file (str, optional): TensorRT dynamic-shape file from a tuning run.
        gpu_id (int): GPU index.
        print_detail (bool): Keep Paddle Inference's own glog output.

    Call it with an N×C×H×W float32 array; it returns a numpy array: int32 N×H×W class ids
    (output_op 'argmax'), or float32 N×C×H×W probabilities ('softmax') / logits ('none').
    """

    def __init__(self, path, device="cpu", precision="fp32", cpu_threads=None, use_onednn=True, use_trt=False,
                 min_subgraph_size=3, auto_tuned_shape_file=None, gpu_id=0, print_detail=False):
        self.model_dir, self.deploy = load_deploy_config(path)
        self.device = resolve_device(device, "Predictor")
        self.precision = resolve_precision(precision, self.device, use_onednn)
        self.output_op = self.deploy.get("output_op", "argmax")
        config = build_config(self.model_dir, self.deploy, device=self.device, precision=self.precision,
                              cpu_threads=cpu_threads, use_onednn=use_onednn, use_trt=use_trt,
                              min_subgraph_size=min_subgraph_size, auto_tuned_shape_file=auto_tuned_shape_file,
                              gpu_id=gpu_id, print_detail=print_detail)
        with _native_stderr_silenced(not print_detail):
            self._predictor = paddle_infer.create_predictor(config)
        self._input = self._predictor.get_input_handle(self._predictor.get_input_names()[0])
        self._output = self._predictor.get_output_handle(self._predictor.get_output_names()[0])
        logger.info("Predictor: {} on {} ({}{})".format(
            os.path.join(self.model_dir, self.deploy.get("model", MODEL_FILE)), self.device, self.precision,
            ", oneDNN" if self.device == "cpu" and use_onednn else ", TensorRT" if use_trt else ""))

    @property
    def transforms(self):
        """The val transforms config list recorded in deploy.yaml."""
        return list(self.deploy.get("transforms") or [])

    def __call__(self, images):
        """Run the model on an N×C×H×W float32 array (or paddle Tensor); returns a numpy array."""
        images = as_batch(images)
        self._input.reshape(list(images.shape))
        self._input.copy_from_cpu(images)
        self._predictor.run()
        return self._output.copy_to_cpu()


class PredictorModel:
    """A Predictor (or `onnx_predictor.OnnxPredictor`) exported with output_op 'none', usable where
    core.* expects a model.

    `model(x)` takes a paddle Tensor N×C×H×W and returns `[logits]` as a paddle Tensor;
    `eval()` / `train()` exist for the loops' sake (an inference model is always in eval mode).

    Args:
        predictor (Predictor): Exported with output_op='none'.
        source_model (paddle.nn.Layer, optional): The dygraph model it was exported from; `core.memory`
            measures the memory a forward pass needs on it, as Paddle's allocator statistics do not see
            Paddle Inference's own allocations (which are about the same).
    """

    def __init__(self, predictor, source_model=None):
        if predictor.output_op != "none":
            raise ValueError("PredictorModel needs logits: export with output_op='none' (got {!r})".format(
                predictor.output_op))
        self.predictor, self.source_model = predictor, source_model
        self.training = False

    def eval(self):
        return self

    def train(self, mode=True):
        if mode:
            raise RuntimeError("An inference-engine model cannot be trained")
        return self

    def __call__(self, x):
        return [paddle.to_tensor(self.predictor(x))]


def inference_model(model, device="cpu", precision="fp32", cpu_threads=None, model_config=None, cache_dir=None):
    """Export a dygraph `model` (logits) and wrap it as a `PredictorModel` for evaluation/prediction.

    This is what `tools/val.py --engine inference` and `tools/predict.py --engine inference` call. The
    export comes from `deploy.cache`: a checkpoint already exported once is not exported again.

    Args:
        model (paddle.nn.Layer): A built model with its weights loaded.
        device (str): 'cpu' or 'gpu'.
        precision (str): See `Predictor` ('fp32' gives the dygraph model's predictions).
        cpu_threads (int, optional): See `Predictor`.
        model_config (dict, optional): The config's `model` section, part of the cache key.
        cache_dir (str, optional): The export cache (default: `deploy.cache.cache_root()`).

    Returns:
        PredictorModel: Returns `[logits]` for an N×C×H×W input, like the model.
    """
    entry, _ = cached_export(model, model_config, output_op="none", root=cache_dir)
    predictor = Predictor(entry, device=device, precision=precision, cpu_threads=cpu_threads)
    return PredictorModel(predictor, source_model=model)
