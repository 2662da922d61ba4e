"""Run an ONNX export (deploy.onnx_export) with ONNX Runtime on CPU, fp32.

`OnnxPredictor` has the call interface of `predictor.Predictor` (N×C×H×W float32 in, numpy out per
deploy.yaml `output_op`), so `PredictorModel` wraps it for core.val / core.predict; `onnx_model` is
what `--engine onnx` calls. ONNX Runtime gives the dygraph model's fp32 predictions (~1e-6) and, for
UNet-64 on a 584x565 image, uses ~12-16% less CPU per image than Paddle Inference oneDNN fp32; it has
no bf16 CPU path worth using, so bf16 stays with Paddle Inference.
"""
import os

from paddleseg_lite.deploy.cache import cached_export
from paddleseg_lite.deploy.onnx_export import require
from paddleseg_lite.deploy.predictor import PredictorModel, as_batch, load_deploy_config
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.cpu import available_cpus


class OnnxPredictor:
    """An exported model.onnx run by ONNX Runtime's CPU execution provider.

    Args:
        path (str): The ONNX export directory or its deploy.yaml (`model` names the .onnx file).
        cpu_threads (int, optional): Intra-op threads; default: all CPUs this process may use.
    """

    def __init__(self, path, cpu_threads=None):
        ort = require("onnxruntime")
        self.model_dir, self.deploy = load_deploy_config(path)
        self.output_op = self.deploy.get("output_op", "argmax")
        self.precision = "fp32"
        model_path = os.path.join(self.model_dir, self.deploy.get("model", ""))
        if not model_path.endswith(".onnx"):
            raise ValueError("{}: deploy.yaml names {!r}, not an .onnx model; export with tools/export.py "
                             "--format onnx".format(path, self.deploy.get("model")))
        options = ort.SessionOptions()
        options.intra_op_num_threads = cpu_threads or available_cpus()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        self._session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        logger.info("Predictor: {} on cpu (fp32, ONNX Runtime {})".format(model_path, ort.__version__))

    @property
    def transforms(self):
        """The val transforms config list recorded in deploy.yaml."""
        return list(self.deploy.get("transforms") or [])

    def __call__(self, images):
        """Run the model on an N×C×H×W float32 array (or paddle Tensor); returns a numpy array."""
        return self._session.run(None, {self._input: as_batch(images)})[0]


def onnx_model(model, cpu_threads=None, model_config=None, cache_dir=None):
    """Export a dygraph `model` (logits) to ONNX through the cache and wrap it as a `PredictorModel`.

    This is what `tools/val.py --engine onnx` and `tools/predict.py --engine onnx` call; the
    conversion is cached per checkpoint like the Paddle export (`deploy.cache`, fmt 'onnx').
    """
    require("onnxruntime")  # fail before exporting when it is missing
    entry, _ = cached_export(model, model_config, output_op="none", root=cache_dir, fmt="onnx")
    return PredictorModel(OnnxPredictor(entry, cpu_threads=cpu_threads), source_model=model)
