"""Print the resolved config (after _base_ merging and overrides) with the file each key came from."""
import argparse
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddleseg_lite import cli  # noqa: E402
from paddleseg_lite.cvlibs import Config  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description="Show the resolved config and where each key came from")
    parser.add_argument("--config", required=True, help="the YAML config file")
    parser.add_argument("--opts", nargs="+", default=None, help="overrides: key.subkey=value ...")
    args = parser.parse_args(argv)
    cfg = Config(args.config, opts=args.opts)
    print(cfg)
    print("# where each key came from:")
    width = max(len(k) for k in cfg.origins) if cfg.origins else 0
    for key in sorted(cfg.origins):
        print("{:<{}}  {}".format(key, width, os.path.relpath(cfg.origins[key]) if os.path.isabs(cfg.origins[key])
                                   else cfg.origins[key]))


if __name__ == "__main__":
    cli.run(main)
