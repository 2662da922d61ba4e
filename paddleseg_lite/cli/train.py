"""Train a segmentation model from a YAML config (PaddleSeg's tools/train.py flags).

Every run knob is a config key; its flag (`--save_interval 200`, `--seed 0`, ...) only overrides the
key, and `save_dir/config.yml` records them all, so `--config save_dir/config.yml` reruns the run.
"""
import argparse
import os

from paddleseg_lite import cli
from paddleseg_lite.cli import paddleseg_flags
from paddleseg_lite.core import Trainer
from paddleseg_lite.core.checkpoint_files import recover
from paddleseg_lite.cvlibs import Config
from paddleseg_lite.cvlibs.builtin_configs import CONFIG_HELP
from paddleseg_lite.utils import logger


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Model training")
    p.add_argument("--config", required=True, help=CONFIG_HELP)
    p.add_argument("--device", default="gpu", choices=cli.DEVICES, help="gpu falls back to cpu without CUDA")
    p.add_argument("--save_dir", default="./output", help="where checkpoints and logs go")
    p.add_argument("--resume_model", default=None, help="checkpoint dir (save_dir/iter_N) or 'auto'")
    p.add_argument("--learning_rate", type=float, default=None, help="overrides lr_scheduler.learning_rate")
    cli.add_run_flags(p)
    paddleseg_flags.add_profiler_arg(p)
    paddleseg_flags.add_data_format_arg(p)
    paddleseg_flags.add_multilabel_arg(p)
    p.add_argument("--opts", nargs="+", default=None, help="overrides: key.subkey=value ...")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    paddleseg_flags.check_flags(args)
    cli.check_save_dir(args.save_dir)
    rank0 = int(os.environ.get("PADDLE_TRAINER_ID", "0")) == 0
    if rank0:
        recover(args.save_dir)  # first: a killed writer's temporary may hold the disk space the run needs
    cli.set_device(args.device)
    cfg = Config(args.config, learning_rate=args.learning_rate, batch_size=args.batch_size, iters=args.iters,
                 opts=args.opts, **cli.run_flags(args))
    cfg.check_train()
    cfg.train_settings  # resolves every knob (and the seed) into the config before it is saved
    if rank0:
        logger.add_file(os.path.join(args.save_dir, "train.log"))
    logger.info("---------------Config Information---------------\n{}------------------------------------------------"
                .format(cfg))
    trainer = Trainer.from_config(cfg, args.save_dir)
    trainer.restore(args.resume_model)  # before config.yml: a checkpoint this config cannot resume keeps its own
    cfg.record_train_settings(trainer.settings)  # the precision that trains ('auto' resolved)
    if rank0:
        cfg.save(os.path.join(args.save_dir, "config.yml"))
    trainer.train(profiler_options=args.profiler_options)
