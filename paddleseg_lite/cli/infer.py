"""Predict images with an exported model through Paddle Inference (PaddleSeg's deploy/python/infer.py).

python deploy/python/infer.py --config output/inference_model/deploy.yaml --image_path img.png
writes save_dir/<image stem>.png pseudo-colour predictions. On CPU it uses oneDNN in fp32 by default, as
tools/val.py and tools/predict.py do (--precision bf16 for bfloat16; auto: bf16 on CPUs with native bf16);
--device gpu [--use_trt] on GPUs. A deploy.yaml
written by `tools/export.py --format onnx` (model.onnx) runs with ONNX Runtime on CPU, fp32.
The decision threshold of a binary model is deploy.yaml's `threshold` (tools/export.py writes the one
`tools/val.py --threshold auto` stored with the weights); --threshold overrides it for softmax / none
exports. Outside the field of view (--fov; default: deploy.yaml's `fov`, auto for fundus models)
predictions are background. Images that cannot be read are skipped with a warning each and a summary
(exit code 0); when none of them can be read, the run fails with one error line (exit code 2).
"""
import argparse
import os
import time

import cv2
import numpy as np
import paddle

from paddleseg_lite import cli
from paddleseg_lite.models.outputs import logits_to_pred, prob_to_pred
from paddleseg_lite.core.predict import SkippedImages, get_image_list
from paddleseg_lite.core.threshold import deploy_threshold, parse_threshold
from paddleseg_lite.cvlibs import builder, manager
from paddleseg_lite.datasets.fov import FovSource, parse_fov_flag
from paddleseg_lite.deploy import OnnxPredictor, Predictor, load_deploy_config
from paddleseg_lite.deploy.predictor import PRECISIONS, tune_trt_shapes
from paddleseg_lite.transforms import Compose
from paddleseg_lite.transforms.trans_info import undo_trans_info
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.fov import background_outside
from paddleseg_lite.utils.imageio import write_palette_png
from paddleseg_lite.utils.progress import Progress
from paddleseg_lite.utils.validate import check_int
from paddleseg_lite.utils.visual import color_map


def str2bool(text):
    if str(text).lower() in ("true", "1", "yes"):
        return True
    if str(text).lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError("expected True or False, got {!r}".format(text))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Paddle Inference prediction with an exported model")
    p.add_argument("--config", dest="cfg", required=True, help="deploy.yaml written by tools/export.py")
    p.add_argument("--image_path", required=True, help="an image, a directory, or a .txt list of images")
    p.add_argument("--batch_size", type=int, default=1, help="images per run (same-size images only)")
    p.add_argument("--save_dir", default="./output", help="where the pseudo-colour PNGs go")
    p.add_argument("--device", choices=["cpu", "gpu"], default="gpu", help="falls back to cpu without CUDA")
    p.add_argument("--use_trt", type=str2bool, default=False, help="TensorRT on GPU")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="fp32 (default, as PaddleSeg), bf16 (CPU, oneDNN), fp16/int8 (GPU); auto: bf16 on CPUs with "
                   "native bf16, else fp32")
    p.add_argument("--min_subgraph_size", type=int, default=3, help="smallest TensorRT subgraph")
    p.add_argument("--enable_auto_tune", type=str2bool, default=False,
                   help="collect TensorRT dynamic shapes from the images first")
    p.add_argument("--auto_tuned_shape_file", default="auto_tune_tmp.pbtxt", help="TensorRT dynamic-shape file")
    p.add_argument("--cpu_threads", type=int, default=None, help="CPU math threads (default: all CPUs)")
    p.add_argument("--enable_mkldnn", type=str2bool, default=True, help="oneDNN on CPU (default True)")
    p.add_argument("--benchmark", type=str2bool, default=False, help="log the mean time per batch")
    p.add_argument("--model_name", default="", help="name shown in the benchmark log")
    p.add_argument("--with_argmax", action="store_true", help="accepted for PaddleSeg compatibility: "
                   "predictions are always reduced to class ids")
    p.add_argument("--print_detail", type=str2bool, default=True, help="show progress (count, rate, ETA) on stderr")
    p.add_argument("--fov", default=None, help="field of view: auto (estimated from each image), none, or a folder "
                   "of masks named like the images (<stem>.* or <stem>_mask.*); outside it predictions are "
                   "background. Default: deploy.yaml's fov (export writes auto for fundus configs), else none")
    cli.add_threshold_arg(p)
    args = p.parse_args(argv)
    args.threshold = parse_threshold(args.threshold, allow_auto=False)
    for flag in ("batch_size", "min_subgraph_size", "cpu_threads"):  # --batch_size -2 predicted nothing, silently
        if getattr(args, flag) is not None:
            check_int(None, "--" + flag, getattr(args, flag), 1, error=UserError)
    return args


def build_transforms(transform_cfgs):
    """Compose the deploy.yaml transforms list."""
    ops = [builder.build_component(t, "Deploy.transforms[{}]".format(i), manager.TRANSFORMS)
           for i, t in enumerate(transform_cfgs)]
    return Compose(ops)


def restore_size(pred, trans_info):
    """Undo Resize / Padding on an H×W class-id map (nearest resizes)."""
    return undo_trans_info(pred, trans_info, lambda x, size: cv2.resize(
        x, (size[1], size[0]), interpolation=cv2.INTER_NEAREST))


def to_class_ids(output, output_op, threshold=None):
    """N×H×W class ids from the predictor's output: an argmax export's as they are (thresholded in its graph
    when deploy.yaml has a threshold); otherwise by `models.outputs`, the rule val and predict use: argmax,
    or with a `threshold` foreground where the foreground probability is >= it."""
    if output_op == "argmax":
        return output
    if output_op == "softmax" and threshold is None:
        return output.argmax(axis=1)
    if threshold is not None and output.shape[1] > 2:
        raise UserError("--threshold {}: a decision threshold needs a binary model; this one outputs {} classes: "
                        "leave --threshold out".format(threshold, output.shape[1]))
    tensor = paddle.to_tensor(output)
    pred = prob_to_pred(tensor, threshold) if output_op == "softmax" else logits_to_pred(tensor, threshold)
    return pred.numpy()[:, 0]


def batches(items, size):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def predict_batch(predictor, transforms, paths, skipped, threshold=None):
    """(path, class-id map) of each readable image of `paths` (the others go to `skipped`), run together when
    their transformed sizes agree."""
    loaded = [(p, skipped.load(transforms, p)) for p in paths]
    paths, datas = [p for p, d in loaded if d is not None], [d for _, d in loaded if d is not None]
    if len({d["img"].shape for d in datas}) == 1:
        groups = [datas]
    else:
        groups = [[d] for d in datas]
    preds = []
    for group in groups:
        out = to_class_ids(predictor(np.stack([d["img"] for d in group])), predictor.output_op, threshold)
        preds += [restore_size(p.astype(np.uint8), d["trans_info"]) for p, d in zip(out, group)]
    return list(zip(paths, preds))


def onnx_predictor(args):
    """An OnnxPredictor for an ONNX export, refusing the flags ONNX Runtime on CPU cannot honour."""
    if args.use_trt or args.precision not in ("auto", "fp32"):
        raise UserError("{} is an ONNX model: it runs fp32 on CPU (given --precision {}{}); export with "
                        "tools/export.py --format paddle for bf16/fp16/int8 or TensorRT".format(
                            args.cfg, args.precision, " --use_trt True" if args.use_trt else ""))
    if args.device == "gpu":
        logger.info("ONNX model: running on cpu (ONNX Runtime's CPU provider)")
    return OnnxPredictor(args.cfg, cpu_threads=args.cpu_threads)


def fov_source(args, deploy):
    """The FovSource of --fov, or of deploy.yaml's `fov` key (tools/export.py writes auto for fundus models)."""
    if args.fov is not None:
        return FovSource(parse_fov_flag(args.fov))
    return FovSource(parse_fov_flag(str(deploy.get("fov", "none")), "{}: fov".format(args.cfg)))


def main(argv=None):
    args = parse_args(argv)
    images, _ = get_image_list(args.image_path)
    deploy = load_deploy_config(args.cfg)[1]
    fov = fov_source(args, deploy)
    fov.check(images)
    threshold = deploy_threshold(args.threshold, deploy, args.cfg)
    if str(deploy.get("model", "")).endswith(".onnx"):
        return predict_all(args, images, onnx_predictor(args), fov, threshold)
    if args.use_trt and args.enable_auto_tune and not os.path.isfile(args.auto_tuned_shape_file):
        transforms = build_transforms(deploy.get("transforms") or [])
        tune_trt_shapes(args.cfg, (transforms({"img": p, "trans_info": [], "gt_fields": []})["img"][None]
                                   for p in images), args.auto_tuned_shape_file)
    predictor = Predictor(args.cfg, device=args.device, precision=args.precision, cpu_threads=args.cpu_threads,
                          use_onednn=args.enable_mkldnn, use_trt=args.use_trt,
                          min_subgraph_size=args.min_subgraph_size, auto_tuned_shape_file=args.auto_tuned_shape_file)
    predict_all(args, images, predictor, fov, threshold)


def predict_all(args, images, predictor, fov, threshold=None):
    """Predict `images` in batches (at `threshold`, see `to_class_ids`), write their pseudo-colour PNGs
    (background outside the `fov` FovSource's field of view) and log progress / the benchmark."""
    transforms, colors = build_transforms(predictor.transforms), color_map(256)
    times, skipped = [], SkippedImages(len(images))
    with Progress(len(images), "infer", "img", enabled=args.print_detail) as progress:
        for paths in batches(images, args.batch_size):
            tic = time.time()
            preds = predict_batch(predictor, transforms, paths, skipped, threshold)
            times.append(time.time() - tic)
            for path, pred in preds:
                pred = background_outside(fov.mask(path), pred)[0]
                write_palette_png(os.path.join(args.save_dir, os.path.splitext(os.path.basename(path))[0] + ".png"),
                                  pred, colors)
            progress.advance(len(paths), [("batch_cost", times[-1])])
    skipped.finish()
    if args.benchmark and times:
        logger.info("{} mean time per batch: {:.4f} s over {} batches (first excluded when possible)".format(
            args.model_name or "model", float(np.mean(times[1:] or times)), len(times)))
    logger.info("Finish, the results are saved in {}".format(args.save_dir))
