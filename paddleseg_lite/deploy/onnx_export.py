"""Convert an exported Paddle Inference model (deploy.export) to ONNX for ONNX Runtime (paddle2onnx).

Flow: export directory (model.pdmodel, model.pdiparams, deploy.yaml) → `convert_to_onnx` →
save_dir/model.onnx + deploy.yaml (whose `model` names model.onnx). The input keeps its dynamic
batch, height and width. paddle2onnx's own Polygraphy constant folding is skipped: it pip-installs
missing packages at run time, and ONNX Runtime folds constants itself when it loads the model.
paddle2onnx and onnxruntime are imported only here and in `onnx_predictor`, so the rest of the
package works without them.
"""
import importlib
import os
import sys
import tempfile

import yaml

from paddleseg_lite.deploy.export import DEPLOY_FILE, MODEL_FILE, PARAMS_FILE, STAGES, export_model
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.progress import Stages

ONNX_FILE = "model.onnx"
OPSET = 13  # Resize with dynamic sizes and every op UNet needs; supported by onnxruntime >= 1.8
ONNX_STAGE = "ONNX conversion (paddle2onnx)"
ONNX_STAGES = STAGES + (ONNX_STAGE,)  # what `Stages` reports for an ONNX export


def require(module):
    """Import `module` (paddle2onnx or onnxruntime), or a UserError saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise UserError("the ONNX engine needs onnxruntime and paddle2onnx ({}); install them with "
                        "`pip install onnxruntime paddle2onnx==2.1.0`".format(e)) from None


def _run_captured(func):
    """Run `func()` with the process's stdout/stderr (paddle2onnx's C++ and Python logging) sent to a
    temporary file; returns (that output, the exception func raised or None), so a failure can quote it."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        error = None
        try:
            func()
        except Exception as e:  # paddle2onnx logs the cause, then fails on an unset variable
            error = e
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in zip((1, 2), saved):
                os.dup2(copy, fd)
                os.close(copy)
        log.seek(0)
        return log.read(), error


def convert_to_onnx(paddle_dir, save_dir, stages=None):
    """Convert the export in `paddle_dir` into `save_dir`/model.onnx and write its deploy.yaml there.

    Args:
        stages (utils.progress.Stages, optional): Reports ONNX_STAGE as it begins (default: nothing).

    Returns:
        str: The path of model.onnx.
    """
    paddle2onnx = require("paddle2onnx")
    (stages or Stages("export", ONNX_STAGES, enabled=False)).begin(ONNX_STAGE)
    onnx_path = os.path.join(save_dir, ONNX_FILE)
    output, error = _run_captured(lambda: paddle2onnx.export(
        os.path.join(paddle_dir, MODEL_FILE), os.path.join(paddle_dir, PARAMS_FILE), onnx_path,
        opset_version=OPSET, auto_upgrade_opset=True, verbose=False, optimize_tool="none"))
    if error is not None or not os.path.isfile(onnx_path):
        errors = [line for line in output.splitlines() if "rror" in line] or [repr(error)]
        raise RuntimeError("paddle2onnx could not convert {}: {}".format(paddle_dir, " | ".join(errors[:3])))
    with open(os.path.join(paddle_dir, DEPLOY_FILE), encoding="utf-8") as f:
        deploy = yaml.safe_load(f)
    deploy["Deploy"]["model"] = ONNX_FILE
    deploy["Deploy"].pop("params", None)
    with open(os.path.join(save_dir, DEPLOY_FILE), "w", encoding="utf-8") as f:
        yaml.safe_dump(deploy, f, sort_keys=False, default_flow_style=None)
    return onnx_path


def export_onnx_model(model, save_dir, transforms=None, input_shape=None, output_op="argmax", threshold=None,
                      fov=None):
    """Export `model` as `export.export_model` does, then convert it: save_dir/model.onnx + deploy.yaml; its
    stages are logged (ONNX_STAGES).

    Returns:
        str: The path of deploy.yaml.
    """
    require("paddle2onnx")
    os.makedirs(save_dir, exist_ok=True)
    stages = Stages("export", ONNX_STAGES)
    with tempfile.TemporaryDirectory(prefix=".paddle-", dir=save_dir) as paddle_dir:
        export_model(model, paddle_dir, transforms=transforms, input_shape=input_shape, output_op=output_op,
                     threshold=threshold, fov=fov, stages=stages)
        convert_to_onnx(paddle_dir, save_dir, stages)
    stages.finish()
    return os.path.join(save_dir, DEPLOY_FILE)
