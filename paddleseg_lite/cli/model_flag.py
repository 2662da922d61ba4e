"""The `--model NAME` flag of tools/predict.py, tools/val.py and tools/export.py: a shipped model
(`paddleseg_lite.pretrained`) in place of `--config` and `--model_path`.

`--model drive_unet_cpu` sets `--config` to the shipped model's recorded config and `--model_path` to its
weights; everything else is as for any model (the threshold stored with the weights, the config's FOV
default, `--opts` on top of the config). Giving `--config` or `--model_path` as well is ambiguous, so it is
refused; without `--model`, `--config` (and, where the tool needs weights, `--model_path`) is required.
`val --threshold auto` is refused too: it would overwrite the threshold shipped inside the package, which
every later `--model` run uses.
"""
import os

from paddleseg_lite import pretrained
from paddleseg_lite.core.threshold import AUTO, parse_threshold
from paddleseg_lite.utils.errors import UserError


def add_model_flag(parser):
    parser.add_argument("--model", default=None, metavar="NAME",
                        help="a model shipped with the package, instead of --config and --model_path: " + _names())


def apply_model_flag(args, weights_required=True, tunes_threshold=False):
    """Fill `args.config` and `args.model_path` from `--model` (returns `args`); `tunes_threshold`: the tool
    takes `--threshold auto` (val).

    Raises:
        UserError: --model with --config or --model_path (or --threshold auto), not a shipped model's name, or
            a required flag missing.
    """
    if args.model is None:
        for flag, required in (("config", True), ("model_path", weights_required)):
            if required and not getattr(args, flag):
                raise UserError("--{} is required (or --model NAME, a shipped model: {})".format(flag, _names()))
        return args
    shipped = _shipped_model(args)
    if tunes_threshold and parse_threshold(args.threshold, allow_auto=True) == AUTO:
        raise UserError("--threshold auto with --model {}: tuning would overwrite the threshold shipped in {}; "
                        "give --threshold T to evaluate at T, or copy its files and pass --config and "
                        "--model_path".format(args.model, os.path.dirname(shipped.model_path)))
    args.config, args.model_path = shipped.config, shipped.model_path
    return args


def _shipped_model(args):
    given = [flag for flag in ("config", "model_path") if getattr(args, flag)]
    if given:
        raise UserError("--model {} gives the config and the weights: leave out {}, or leave out --model".format(
            args.model, " and ".join("--" + flag for flag in given)))
    if os.path.exists(args.model) or args.model.endswith(".pdparams"):  # --model as short for --model_path
        raise UserError("--model {}: --model takes the name of a shipped model ({}); give weights with "
                        "--model_path".format(args.model, _names()))
    return pretrained.shipped_model(args.model)


def _names():
    return ", ".join(pretrained.names()) or "none"
