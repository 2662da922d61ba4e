"""Export a trained model for deployment (PaddleSeg's tools/export.py flags).

Writes save_dir/model.pdmodel, model.pdiparams and deploy.yaml; run them with
deploy/python/infer.py or paddleseg_lite.deploy.Predictor. With --format onnx: save_dir/model.onnx
(dynamic batch, height and width unless --input_shape fixes them) and deploy.yaml, for ONNX Runtime
(paddleseg_lite.deploy.OnnxPredictor); needs paddle2onnx. The decision threshold of a binary model
(--threshold, else the one `tools/val.py --threshold auto` stored with the weights) goes into deploy.yaml
and, for --output_op argmax, into the graph. A fundus model (a vessel dataset, or `fov: auto`) gets
`fov: auto` in deploy.yaml, so infer.py predicts background outside each image's field of view.
Several --model_path (weights of the config's model) export ONE model of the ensemble (`models.ensemble`):
its graph runs every member and averages their class probabilities before output_op; deploy.yaml records
`ensemble:` (members, weights), and infer.py runs it like any export.
"""
import argparse
import os

from paddleseg_lite import cli
from paddleseg_lite.cli import paddleseg_flags
from paddleseg_lite.cli.model_flag import add_model_flag, apply_model_flag
from paddleseg_lite.core.threshold import model_classes, parse_threshold, resolve_threshold
from paddleseg_lite.cvlibs import Config
from paddleseg_lite.cvlibs.builtin_configs import CONFIG_HELP
from paddleseg_lite.datasets.fov import default_fov
from paddleseg_lite.deploy import check_input_shape, export_model, export_onnx_model
from paddleseg_lite.deploy.export import OUTPUT_OPS
from paddleseg_lite.deploy.onnx_export import require
from paddleseg_lite.models.ensemble import Ensemble, weights_list
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError


EXPORTERS = {"paddle": export_model, "onnx": export_onnx_model}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Export a model to a Paddle Inference model + deploy.yaml")
    p.add_argument("--config", default=None, help=CONFIG_HELP + " (required unless --model)")
    p.add_argument("--model_path", nargs="+", default=None, help="weights file, e.g. output/best_model/model.pdparams; "
                   "several: one graph of the ensemble, averaging their class probabilities")
    p.add_argument("--save_dir", default="./output/inference_model", help="where the exported files go")
    p.add_argument("--input_shape", nargs=4, type=int, default=None, metavar=("N", "C", "H", "W"),
                   help="fixed input shape; default [None, 3, None, None] (any batch and image size)")
    p.add_argument("--output_op", choices=OUTPUT_OPS, default="argmax",
                   help="post-processing in the graph: argmax (int32 class ids), softmax or none (logits)")
    p.add_argument("--format", choices=sorted(EXPORTERS), default="paddle",
                   help="paddle: model.pdmodel + model.pdiparams (Paddle Inference); onnx: model.onnx (ONNX Runtime)")
    p.add_argument("--opts", nargs="+", default=None, help="overrides: key.subkey=value ...")
    add_model_flag(p)
    cli.add_threshold_arg(p)
    paddleseg_flags.add_for_fd_arg(p)
    return apply_model_flag(p.parse_args(argv), weights_required=False)


def main(argv=None):
    args = parse_args(argv)
    paddleseg_flags.check_flags(args)
    threshold = parse_threshold(args.threshold, allow_auto=False)
    check_input_shape(args.input_shape, error=UserError)
    cli.check_save_dir(args.save_dir)
    if args.format == "onnx":
        require("paddle2onnx")
    cli.set_device("cpu")
    cfg = Config(args.config, opts=args.opts)
    decision = resolve_threshold(threshold, args.model_path, model_classes(cfg))
    if args.model_path:
        members = cli.load_members(cfg, args.model_path)
        model = members[0] if len(members) == 1 else Ensemble(members, names=weights_list(args.model_path))
    else:
        model = cfg.model
        logger.warning("--model_path not given: exporting randomly initialised weights")
    transforms = (cfg.dic.get("val_dataset") or {}).get("transforms") or []
    if not transforms:
        raise UserError("{}: val_dataset.transforms is missing; deploy.yaml needs the val transforms".format(
            args.config))
    path = EXPORTERS[args.format](model, args.save_dir, transforms=transforms, input_shape=args.input_shape,
                                  output_op=args.output_op, threshold=decision.value, fov=default_fov(cfg.dic),
                                  **({"for_fd": True} if args.for_fd else {}))
    logger.info("The inference model is saved in {} ({})".format(args.save_dir, os.path.basename(path)))
