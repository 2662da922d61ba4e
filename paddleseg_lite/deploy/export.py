"""Export a built model to a static inference model plus deploy.yaml (PaddleSeg's tools/export.py).

Flow: model (dygraph, weights loaded) → `export_model` → `save_dir/model.pdmodel` + `model.pdiparams`
+ `deploy.yaml`, which `deploy.predictor.Predictor` and deploy/python/infer.py read (`for_fd`: PaddleSeg's
FastDeploy names `inference.pdmodel` / `inference.pdiparams` / `inference.yml`, the same content; infer.py
reads them with `--config save_dir/inference.yml`). An `models.ensemble.Ensemble` exports as one graph running
every member (deploy.yaml `ensemble:` says how many and which weights).

The program is written in the *old* program format (model.pdmodel), not PIR (model.json): Paddle
Inference 3.3 with oneDNN fails on `bilinear_interp_v2` in the PIR executor
("ConvertPirAttribute2RuntimeAttribute not support ArrayAttribute<DoubleAttribute>"), while the old
executor runs it and every conv through oneDNN (5-8x faster than dygraph on CPU). Conv bias adds
are then rewritten so the predictor fuses conv + bias + batch_norm + relu (`conv_bias`).
"""
import os

import paddle
import paddle.nn.functional as F
import yaml

from paddleseg_lite.deploy.conv_bias import rewire_conv_bias
from paddleseg_lite.models.ensemble import Ensemble
from paddleseg_lite.models.outputs import logits_to_pred
from paddleseg_lite.utils.labels import is_sigmoid
from paddleseg_lite.utils.progress import Stages
from paddleseg_lite.utils.validate import check_choice, is_int

OUTPUT_OPS = ("argmax", "softmax", "none")
OUTPUT_DTYPES = {"argmax": "int32", "softmax": "float32", "none": "float32"}
DEFAULT_INPUT_SHAPE = (None, 3, None, None)
MODEL_FILE, PARAMS_FILE, DEPLOY_FILE = "model.pdmodel", "model.pdiparams", "deploy.yaml"
STAGES = ("tracing the model", "saving " + MODEL_FILE)  # what `Stages` reports
FD_PREFIX, FD_DEPLOY_FILE = "inference", "inference.yml"  # PaddleSeg's --for_fd names, for FastDeploy


class ExportWrapper(paddle.nn.Layer):
    """The first logits of `model`, post-processed by `output_op`.

    Args:
        model (paddle.nn.Layer): A segmentation model returning a list of N×C×H×W logits.
        output_op (str): 'argmax' (int32 N×H×W class ids), 'softmax' (float32 N×C×H×W
            probabilities; N×2×H×W for a 1-channel sigmoid model) or 'none' (float32 N×C×H×W logits).
        threshold (float, optional): Decision threshold of a binary model: 'argmax' then gives class 1
            where the foreground probability is >= threshold (`models.outputs.logits_to_pred`).
    """

    def __init__(self, model, output_op="argmax", threshold=None):
        super().__init__()
        check_choice("ExportWrapper", "output_op", output_op, OUTPUT_OPS)
        self.model = model
        self.output_op = output_op
        self.threshold = threshold

    def forward(self, x):
        logits = self.model(x)[0]
        if self.output_op == "argmax" and self.threshold is not None:
            return logits_to_pred(logits, self.threshold).squeeze(1)
        if is_sigmoid(logits):  # a binary model: class 1 where sigmoid(z) > 0.5, i.e. z > 0
            if self.output_op == "argmax":
                return (logits > 0).squeeze(1).astype("int32")
            if self.output_op == "softmax":
                return paddle.concat([F.sigmoid(-logits), F.sigmoid(logits)], axis=1)
            return logits
        if self.output_op == "argmax":
            # paddle.argmax cannot be traced into the old program format in Paddle 3.3 ("must be
            # Value, but got Variable"); top-1 indices are the same class ids.
            return paddle.topk(logits, k=1, axis=1)[1].squeeze(1).astype("int32")
        if self.output_op == "softmax":
            return F.softmax(logits, axis=1)
        return logits


def check_input_shape(input_shape, error=ValueError):
    """`input_shape` ([N, C, H, W], None: the default) as a list, or `error` naming it and its flag."""
    shape = list(DEFAULT_INPUT_SHAPE if input_shape is None else input_shape)
    if len(shape) != 4 or not all(s is None or (is_int(s) and s > 0) for s in shape):
        raise error("input_shape (--input_shape) must be 4 positive ints or None (N, C, H, W; leave the flag "
                    "out for any batch and image size), got {}".format(input_shape))
    return shape


def save_inference_model(model, path_prefix, input_shape=None, output_op="argmax", threshold=None, stages=None):
    """Trace `model` (wrapped by `output_op`) and write `<path_prefix>.pdmodel/.pdiparams`.

    Args:
        model (paddle.nn.Layer): The model; it is put in eval mode and restored afterwards.
        path_prefix (str): e.g. 'output/inference_model/model'.
        input_shape (list, optional): [N, C, H, W], None for a dynamic dimension
            (default [None, 3, None, None]: any batch and image size).
        output_op (str), threshold (float, optional): See `ExportWrapper`.
        stages (utils.progress.Stages, optional): Reports the STAGES as they begin (default: nothing).
    """
    shape = check_input_shape(input_shape)
    stages = stages or Stages("export", STAGES, enabled=False)
    was_training = model.training
    model.eval()
    try:
        spec = [paddle.static.InputSpec(shape=shape, dtype="float32", name="x")]
        static = paddle.jit.to_static(ExportWrapper(model, output_op, threshold), input_spec=spec, full_graph=True)
        with paddle.pir_utils.OldIrGuard():  # the guard also switches to static mode while saving
            stages.begin(STAGES[0])
            _ = static.forward.concrete_program  # traced once here: jit.save reuses the program
            stages.begin(STAGES[1])
            paddle.jit.save(static, path_prefix)
        rewire_conv_bias(path_prefix + ".pdmodel")
    finally:
        if was_training:
            model.train()


def write_deploy_yaml(save_dir, transforms, input_shape=None, output_op="argmax", threshold=None, fov=None,
                      prefix="model", filename=DEPLOY_FILE, ensemble=None):
    """Write PaddleSeg's `deploy.yaml` into `save_dir` and return its path.

    Args:
        save_dir (str): The export directory.
        transforms (list[dict]): The val_dataset `transforms` config list (e.g. [{'type': 'Normalize'}]).
        input_shape (list, optional): As given to `save_inference_model`.
        output_op (str): See `ExportWrapper`.
        threshold (float, optional): The decision threshold of a binary model (`threshold:`, which
            deploy/python/infer.py applies; for 'argmax' the graph already does).
        fov (str, optional): 'auto' records `fov: auto` (fundus models): deploy/python/infer.py then
            estimates each image's field of view and predicts background outside it.
        prefix (str), filename (str): The model files' name (`<prefix>.pdmodel`, `.pdiparams`) and the yaml's.
        ensemble (dict, optional): `Ensemble.describe()` of an exported ensemble (`ensemble:`; informative,
            infer.py needs nothing else).
    """
    deploy = {"Deploy": {
        "model": prefix + ".pdmodel",
        "params": prefix + ".pdiparams",
        "transforms": list(transforms or []),
        "input_shape": check_input_shape(input_shape),
        "output_op": output_op,
        "output_dtype": OUTPUT_DTYPES[output_op],
    }}
    if threshold is not None:
        deploy["Deploy"]["threshold"] = float(threshold)
    if fov:
        deploy["Deploy"]["fov"] = fov
    if ensemble:
        deploy["Deploy"]["ensemble"] = ensemble
    path = os.path.join(save_dir, filename)
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(deploy, f, sort_keys=False, default_flow_style=None)
    return path


def export_model(model, save_dir, transforms=None, input_shape=None, output_op="argmax", threshold=None, fov=None,
                 stages=None, for_fd=False):
    """Export `model` to `save_dir` (model.pdmodel, model.pdiparams, deploy.yaml; `for_fd`: inference.pdmodel,
    inference.pdiparams, inference.yml), logging its stages.

    Args:
        model (paddle.nn.Layer): A built segmentation model with its weights loaded.
        save_dir (str): Created if missing.
        transforms (list[dict], optional): val_dataset transforms config, copied into deploy.yaml.
        input_shape (list, optional): [N, C, H, W] with None for dynamic dims.
        output_op (str): 'argmax' (default, as PaddleSeg), 'softmax' or 'none'.
        threshold (float, optional): Decision threshold of a binary model (see `ExportWrapper`).
        fov (str, optional): See `write_deploy_yaml`.
        stages (utils.progress.Stages, optional): The caller's stages, which it finishes (default: this
            export's own, `export 1/2: tracing the model (elapsed 0.0 s)` ... `export: done in 2.1 s`).

    Returns:
        str: The path of deploy.yaml (inference.yml).
    """
    own = stages is None
    stages = stages or Stages("export", STAGES)
    os.makedirs(save_dir, exist_ok=True)
    prefix, filename = (FD_PREFIX, FD_DEPLOY_FILE) if for_fd else ("model", DEPLOY_FILE)
    save_inference_model(model, os.path.join(save_dir, prefix), input_shape, output_op, threshold, stages)
    ensemble = model.describe() if isinstance(model, Ensemble) else None
    path = write_deploy_yaml(save_dir, transforms, input_shape, output_op, threshold, fov, prefix, filename, ensemble)
    if own:
        stages.finish()
    return path
