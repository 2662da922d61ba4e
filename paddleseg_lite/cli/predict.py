"""Predict images with a trained model (PaddleSeg's tools/predict.py flags, plus --save_prob, --threshold
and --fov).

Outside the field of view (--fov; default auto for fundus configs) every output is background; inside it a
binary model's pixel is vessel where its probability is >= the decision threshold (--threshold, else the
one stored with the weights, else argmax).

Images of --image_path that cannot be read are skipped with a warning each and a summary (exit code 0);
when none of them can be read, the run stops with one error line (exit code 2).
"""
import argparse

from paddleseg_lite import cli
from paddleseg_lite.cli import paddleseg_flags
from paddleseg_lite.cli.fov import add_fov_arg, predict_fov
from paddleseg_lite.cli.model_flag import add_model_flag, apply_model_flag
from paddleseg_lite.core.predict import get_image_list, predict_images
from paddleseg_lite.core.threshold import model_classes, parse_threshold, resolve_threshold
from paddleseg_lite.cvlibs import Config


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Model prediction")
    cli.add_model_args(p)
    p.add_argument("--image_path", required=True, help="an image, a directory, or a .txt list of images")
    p.add_argument("--save_dir", default="./output/result", help="where predictions are written")
    p.add_argument("--aug_pred", action="store_true", help="predict with --scales / flips")
    p.add_argument("--custom_color", nargs="+", type=int, default=None, help="RGB triplets for the classes")
    p.add_argument("--save_prob", action="store_true", help="also write foreground probability maps")
    add_fov_arg(p)
    cli.add_inference_args(p)
    add_model_flag(p)
    cli.add_threshold_arg(p)
    cli.add_engine_args(p)
    paddleseg_flags.add_multilabel_arg(p)
    paddleseg_flags.add_device_id_arg(p)
    return apply_model_flag(p.parse_args(argv))


def main(argv=None):
    args = parse_args(argv)
    paddleseg_flags.check_flags(args)
    threshold = parse_threshold(args.threshold, allow_auto=False)
    cli.check_save_dir(args.save_dir)
    cli.set_device(args.device, args.device_id)
    cfg = Config(args.config, opts=args.opts)
    image_list, image_dir = get_image_list(args.image_path)
    fov = predict_fov(cfg, args.fov)
    fov.check(image_list)
    options, _ = cli.inference_options(args, cfg.test_config, "aug_pred")
    decision = resolve_threshold(threshold, args.model_path, model_classes(cfg))
    model = cli.load_model(cfg, args)
    predict_images(model, cfg.val_transforms, image_list, image_dir, args.save_dir, options,
                   save_prob=args.save_prob, custom_color=args.custom_color, threshold=decision.value, fov=fov)
