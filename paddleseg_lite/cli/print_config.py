"""Print the resolved config (after _base_ merging and overrides) with the file each key came from."""
import argparse
import os

from paddleseg_lite.cvlibs import Config
from paddleseg_lite.cvlibs.builtin_configs import CONFIG_HELP


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Show the resolved config and where each key came from")
    parser.add_argument("--config", required=True, help=CONFIG_HELP)
    parser.add_argument("--opts", nargs="+", default=None, help="overrides: key.subkey=value ...")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config(args.config, opts=args.opts)
    print(cfg)
    print("# where each key came from:")
    width = max(len(k) for k in cfg.origins) if cfg.origins else 0
    for key in sorted(cfg.origins):
        print("{:<{}}  {}".format(key, width, shown_path(cfg.origins[key])))


def shown_path(origin):
    """A file relative to the working directory when it lies below it (a built-in config of an installed
    package does not: its absolute path), or a flag name as it is."""
    if not os.path.isabs(origin):
        return origin
    rel = os.path.relpath(origin)
    return origin if rel.startswith("..") else rel
