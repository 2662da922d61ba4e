"""`paddleseg_lite <command> [flags]` (the console script) and `python -m paddleseg_lite <command> [flags]`.

Each command is a module of `paddleseg_lite.cli` with `main(argv)`, the same code tools/*.py run, so the
flags are the same. Nothing of a command is imported until it is chosen: `paddleseg_lite --help` answers
at once instead of loading Paddle first. This module sits above the `cli` layer.
"""
import importlib
import sys

from paddleseg_lite import __version__
from paddleseg_lite.utils.validate import did_you_mean

PROG = "paddleseg_lite"
COMMANDS = {  # name: (module of paddleseg_lite.cli, one line for --help)
    "train": ("train", "train a model from a config (PaddleSeg's tools/train.py)"),
    "val": ("val", "evaluate weights on the config's val_dataset: metrics, per-image CSV, report"),
    "predict": ("predict", "predict images with trained weights: pseudo-colour PNGs, probabilities"),
    "export": ("export", "export a model for deployment: Paddle Inference or ONNX, with deploy.yaml"),
    "infer": ("infer", "predict images with an exported model (PaddleSeg's deploy/python/infer.py)"),
    "list": ("list_components", "list registered models, datasets, transforms, losses and built-in configs"),
    "print-config": ("print_config", "show the resolved config and the file each key came from"),
    "check-data": ("check_data", "check a config's datasets: sizes, labels, FOV, Normalize statistics"),
    "prepare-dataset": ("prepare_dataset", "convert a DRIVE/STARE/CHASE_DB1/HRF archive to the file-list layout"),
    "prepare-drive": ("prepare_drive", "convert the DRIVE archive (zip or folder) to the file-list layout"),
    "split-dataset": ("split_dataset", "write train/val/test or k-fold split lists (seeded, stratified, grouped)"),
    "cross-validate": ("cross_validate", "train the k folds of split lists, report per-fold and pooled metrics"),
    "convert-labels": ("convert_labels", "convert 0/255, palette or colour masks to class-id PNGs (--map 0:0 255:1)"),
    "make-synthetic-data": ("make_synthetic_data", "write synthetic vessel images as a file-list dataset"),
    "quickstart": ("quickstart", "train, evaluate and predict on synthetic vessel images (~3 min on a CPU)"),
}
ALIASES = {"list-components": "list"}  # the name of tools/list_components.py


def usage():
    width = max(map(len, COMMANDS))
    lines = ["usage: {} <command> [flags]   (or: python -m {} <command> [flags])".format(PROG, PROG), "",
             "PaddleSeg-compatible segmentation on PaddlePaddle. Commands:"]
    lines += ["  {:<{}}  {}".format(name, width, text) for name, (_, text) in COMMANDS.items()]
    lines += ["", "`{} <command> --help` shows the command's flags. --version prints the version.".format(PROG)]
    return "\n".join(lines)


def command_name(word):
    """The command `word` names (`print_config` as `print-config`, aliases), or None."""
    name = word.replace("_", "-")
    name = ALIASES.get(name, name)
    return name if name in COMMANDS else None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        print("{} {}".format(PROG, __version__))
        return 0
    name = command_name(argv[0])
    if name is None:
        sys.stderr.write("error: unknown command '{}'.{} `{} --help` lists the commands\n".format(
            argv[0], did_you_mean(argv[0], COMMANDS), PROG))
        return 2
    module = importlib.import_module("paddleseg_lite.cli." + COMMANDS[name][0])
    from paddleseg_lite import cli
    sys.argv[0] = "{} {}".format(PROG, name)  # argparse's prog: `usage: paddleseg_lite train ...`
    cli.run(lambda: module.main(argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
