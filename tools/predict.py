"""Predict images with a trained model (PaddleSeg's tools/predict.py flags, plus --save_prob)."""
import argparse
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddleseg_lite.core.predict import get_image_list, predict  # noqa: E402
from paddleseg_lite.cvlibs import Config  # noqa: E402
from paddleseg_lite.models import load_entire_model  # noqa: E402
from paddleseg_lite.utils import cli  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Model prediction")
    p.add_argument("--config", required=True, help="the YAML config file")
    p.add_argument("--model_path", required=True, help="weights file, e.g. output/best_model/model.pdparams")
    p.add_argument("--image_path", required=True, help="an image, a directory, or a .txt list of images")
    p.add_argument("--save_dir", default="./output/result", help="where predictions are written")
    p.add_argument("--device", default="gpu", choices=["cpu", "gpu"], help="falls back to cpu without CUDA")
    p.add_argument("--aug_pred", action="store_true", help="predict with --scales / flips")
    p.add_argument("--custom_color", nargs="+", type=int, default=None, help="RGB triplets for the classes")
    p.add_argument("--save_prob", action="store_true", help="also write foreground probability maps")
    p.add_argument("--opts", nargs="+", default=None, help="overrides: key.subkey=value ...")
    cli.add_inference_args(p)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cli.set_device(args.device)
    cfg = Config(args.config, opts=args.opts)
    image_list, image_dir = get_image_list(args.image_path)
    test_config = cli.inference_config(args, cfg.test_config, "aug_pred")
    test_config.pop("auc_roc", None)
    model = cfg.model
    load_entire_model(model, args.model_path)
    predict(model, cfg.val_transforms, image_list, image_dir, save_dir=args.save_dir, save_prob=args.save_prob,
            custom_color=args.custom_color, **test_config)


if __name__ == "__main__":
    cli.run(main)
