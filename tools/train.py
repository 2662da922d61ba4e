"""Train a segmentation model from a YAML config (PaddleSeg's tools/train.py flags)."""
import argparse
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddleseg_lite.core.train import train  # noqa: E402
from paddleseg_lite.cvlibs import Config  # noqa: E402
from paddleseg_lite.models.layers import maybe_sync_batchnorm  # noqa: E402
from paddleseg_lite.utils import cli, logger  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Model training")
    p.add_argument("--config", required=True, help="the YAML config file")
    p.add_argument("--device", default="gpu", choices=["cpu", "gpu"], help="falls back to cpu without CUDA")
    p.add_argument("--save_dir", default="./output", help="where checkpoints and logs go")
    p.add_argument("--num_workers", type=int, default=0, help="data loader worker processes")
    p.add_argument("--do_eval", action="store_true", help="evaluate at each save point")
    p.add_argument("--use_vdl", action="store_true", help="log to VisualDL in save_dir")
    p.add_argument("--resume_model", default=None, help="checkpoint dir (save_dir/iter_N) or 'auto'")
    p.add_argument("--iters", type=int, default=None, help="overrides iters")
    p.add_argument("--batch_size", type=int, default=None, help="overrides batch_size (per card)")
    p.add_argument("--learning_rate", type=float, default=None, help="overrides lr_scheduler.learning_rate")
    p.add_argument("--save_interval", type=int, default=1000, help="checkpoint/eval every N iters")
    p.add_argument("--log_iters", type=int, default=10, help="log every N iters")
    p.add_argument("--keep_checkpoint_max", type=int, default=5, help="keep the newest N iter_* dirs (<=0: all)")
    p.add_argument("--early_stop_intervals", type=int, default=None,
                   help="stop after N evaluations below the best")
    p.add_argument("--save_best_metric", default="mIoU", help="metric choosing best_model (mIoU, dice_fg, ...)")
    p.add_argument("--seed", type=int, default=None, help="random seed (paddle, numpy, random, data order)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16"], help="fp16 = AMP (GPU only)")
    p.add_argument("--amp_level", default="O1", choices=["O1", "O2"], help="AMP level for fp16")
    p.add_argument("--to_static_training", action="store_true", default=None,
                   help="CPU: run the training steps as a static graph (2-3x faster; config key to_static_training)")
    p.add_argument("--opts", nargs="+", default=None, help="overrides: key.subkey=value ...")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cli.set_device(args.device)
    cli.set_seed(args.seed)
    cfg = Config(args.config, learning_rate=args.learning_rate, batch_size=args.batch_size, iters=args.iters,
                 opts=args.opts)
    cfg.check_train()
    if int(os.environ.get("PADDLE_TRAINER_ID", "0")) == 0:
        logger.add_file(os.path.join(args.save_dir, "train.log"))
        cfg.save(os.path.join(args.save_dir, "config.yml"))
    logger.info("---------------Config Information---------------\n{}------------------------------------------------"
                .format(cfg))
    model = maybe_sync_batchnorm(cfg.model)
    train(model, cfg.train_dataset, cfg.optimizer, cfg.loss, cfg.iters, cfg.batch_size,
          val_dataset=cfg.val_dataset if args.do_eval else None, save_dir=args.save_dir,
          resume_model=args.resume_model, save_interval=args.save_interval, log_iters=args.log_iters,
          num_workers=args.num_workers, use_vdl=args.use_vdl, keep_checkpoint_max=args.keep_checkpoint_max,
          early_stop_intervals=args.early_stop_intervals, test_config=cfg.test_config,
          precision=args.precision, amp_level=args.amp_level, save_best_metric=args.save_best_metric,
          seed=args.seed, to_static_training=bool(args.to_static_training or cfg.dic.get("to_static_training")))


if __name__ == "__main__":
    cli.run(main)
