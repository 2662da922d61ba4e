"""Put a training run's final weights into the package as a shipped model (`--model NAME`).

    python dev/ship_model.py --run output/drive_cpu --weights output/drive_cpu/iter_6400/model.pdparams \
        --name drive_unet_cpu --threshold 0.25

writes paddleseg_lite/pretrained/<name>/ (see paddleseg_lite/pretrained/__init__.py):
- config.yml: the run's recorded config (`--run`/config.yml) with `--opts` applied (for keys that do not
  change the weights, e.g. a recipe's later `test_config`), every `*_dataset.dataset_root` replaced by
  `--dataset_root` (default data/DRIVE: a run records its own absolute paths, which mean nothing on a user's
  machine) and `model.pretrained` emptied (the shipped weights replace it);
- model.pdparams: the weights, checked against that config's model first (every parameter, every shape);
- model.pdstates: only the decision threshold, written by `core.threshold.store_threshold` (the function
  `tools/val.py --threshold auto` uses), so it carries the digest of exactly these weights.

The threshold is given, not tuned here: it should come from images the weights never saw (the recipe's
cross-validation folds, docs/drive_cpu_results.md), not from the training images. A maintainer's step,
hence dev/ and not tools/.
"""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddleseg_lite import cli, pretrained  # noqa: E402
from paddleseg_lite.core.threshold import parse_threshold, store_threshold  # noqa: E402
from paddleseg_lite.cvlibs import Config  # noqa: E402
from paddleseg_lite.models import load_entire_model  # noqa: E402
from paddleseg_lite.utils import logger  # noqa: E402
from paddleseg_lite.utils.errors import UserError  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Ship a run's weights as paddleseg_lite/pretrained/<name>/")
    p.add_argument("--run", required=True, help="the run's save_dir (holding its recorded config.yml)")
    p.add_argument("--weights", required=True, help="the weights to ship, e.g. <run>/iter_6400/model.pdparams")
    p.add_argument("--name", required=True, help="the shipped model's name (--model NAME)")
    p.add_argument("--threshold", required=True, help="decision threshold in [0, 1] stored with the weights")
    p.add_argument("--dataset_root", default="data/DRIVE", help="replaces every dataset_root of the config")
    p.add_argument("--into", default=pretrained.HERE, help="the folder of shipped models (default: the package's)")
    p.add_argument("--opts", nargs="*", default=[], help="key=value changes to the recorded config (evaluation "
                   "keys such as test_config.scales=[0.75,1.0,1.25]; the weights must still fit its model)")
    return p.parse_args(argv)


def shipped_config(run_dir, dataset_root, opts=()):
    """The run's recorded config with `opts` applied, portable dataset paths and no pretrained-weights path."""
    path = os.path.join(run_dir, "config.yml")
    if not os.path.isfile(path):
        raise UserError("--run {}: no config.yml there (the config a training run records)".format(run_dir))
    cfg = Config(path, opts=list(opts))
    for key, section in cfg.dic.items():
        if key.endswith("_dataset") and isinstance(section, dict) and "dataset_root" in section:
            section["dataset_root"] = dataset_root
    if cfg.dic.get("model", {}).get("pretrained"):
        cfg.dic["model"]["pretrained"] = None
    return cfg


def ship(run_dir, weights, name, threshold, dataset_root="data/DRIVE", into=pretrained.HERE, opts=()):
    """Write `into`/`name`/{config.yml, model.pdparams, model.pdstates}; returns that folder."""
    threshold = parse_threshold(threshold, allow_auto=False)
    cfg = shipped_config(run_dir, dataset_root, opts)
    load_entire_model(cfg.model, weights)  # refuses weights that do not fit the config's model
    folder = os.path.join(into, name)
    os.makedirs(folder, exist_ok=True)
    cfg.save(os.path.join(folder, "config.yml"))
    target = os.path.join(folder, "model.pdparams")
    shutil.copyfile(weights, target + ".tmp")
    os.replace(target + ".tmp", target)
    if os.path.exists(os.path.join(folder, "model.pdstates")):
        os.remove(os.path.join(folder, "model.pdstates"))  # a fresh one: nothing but the threshold
    store_threshold(target, {"threshold": threshold, "threshold_f1": None})
    logger.info("Shipped {} as --model {} in {}".format(weights, name, folder))
    return folder


def main(argv=None):
    args = parse_args(argv)
    cli.set_device("cpu")
    ship(args.run, args.weights, args.name, args.threshold, args.dataset_root, args.into, args.opts)


if __name__ == "__main__":
    cli.run(main)
