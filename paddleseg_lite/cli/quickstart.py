"""Train a small U-Net on synthetic vessel images, evaluate it and predict a folder: the quickstart.

    paddleseg_lite quickstart [--save_dir out/quickstart]      (tools/quickstart.sh runs it from a clone)

About 3 minutes on a 2-core CPU. It needs nothing but the installed package: the config is the built-in
`quickstart/unet_synthetic_vessels` and the images are generated. Each step runs as its own
`python -m paddleseg_lite <command>` process, as a user would type them (printed before each), so each
has its own log and Paddle state; the first step that fails stops the run.
"""
import argparse
import os
import subprocess
import sys

from paddleseg_lite import cli
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError

CONFIG = "quickstart/unet_synthetic_vessels"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--save_dir", default="out/quickstart", help="where checkpoints, the report and predictions go")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu"], help="falls back to cpu without CUDA")
    p.add_argument("--iters", type=int, default=None, help="training iterations (default: the config's)")
    p.add_argument("--opts", nargs="+", default=None, help="config overrides for every step: key.subkey=value ...")
    return p.parse_args(argv)


def steps(args):
    """The command lines (after `paddleseg_lite`) of the quickstart's steps."""
    out, common = args.save_dir, ["--config", CONFIG, "--device", args.device]
    opts = ["--opts", *args.opts] if args.opts else []
    weights = os.path.join(out, "best_model", "model.pdparams")
    iters = ["--iters", str(args.iters)] if args.iters is not None else []
    return [
        ["train", *common, "--do_eval", "--use_vdl", "--save_interval", "100", "--log_iters", "50", "--seed", "0",
         "--save_dir", out, *iters, *opts],
        ["val", *common, "--model_path", weights, "--save_dir", os.path.join(out, "val"), *opts],
        ["make-synthetic-data", "--save_dir", os.path.join(out, "images"), "--num", "4", "--size", "64",
         "--mode", "val"],
        ["predict", *common, "--model_path", weights, "--image_path", os.path.join(out, "images", "images"),
         "--save_dir", os.path.join(out, "result"), "--save_prob", *opts],
    ]


def main(argv=None):
    args = parse_args(argv)
    cli.check_save_dir(args.save_dir)
    env = cli.command_env()
    for step in steps(args):
        logger.info("quickstart: paddleseg_lite {}".format(" ".join(step)))
        if subprocess.run([sys.executable, "-m", "paddleseg_lite", *step], env=env).returncode != 0:
            raise UserError("quickstart: `paddleseg_lite {}` failed (its output is above)".format(step[0]))
    out = args.save_dir
    logger.info("Quickstart done: checkpoints in {}, predictions in {}, VisualDL: visualdl --logdir {}".format(
        out, os.path.join(out, "result"), out))
