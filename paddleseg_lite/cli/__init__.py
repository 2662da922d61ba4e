"""The command-line tools (one module each: `paddleseg_lite.cli.train`, ...; run by `paddleseg_lite <command>`
and by the tools/*.py wrappers) and the glue they share here: error handling, device, shared flags.

The top layer of the package below `__main__`: it may import everything below it.
"""
import argparse
import contextlib
import dataclasses
import os
import sys
import tempfile

import paddle

from paddleseg_lite.core.inference_options import InferenceOptions
from paddleseg_lite.cvlibs.builder import build_model
from paddleseg_lite.cvlibs.builtin_configs import CONFIG_HELP
from paddleseg_lite.cvlibs.config_file import parse_value
from paddleseg_lite.cli.paddleseg_flags import DEVICES, device_place
from paddleseg_lite.cvlibs.run_settings import RUN_KEYS, TrainSettings
from paddleseg_lite.deploy import inference_model, onnx_model
from paddleseg_lite.deploy.onnx_export import require
from paddleseg_lite.deploy.predictor import resolve_precision
from paddleseg_lite.models import load_entire_model
from paddleseg_lite.models.ensemble import Ensemble, weights_list
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.cpu import setup_cpu_threads
from paddleseg_lite.utils.device import resolve_device
from paddleseg_lite.utils.errors import UserError

ENGINES = ("auto", "dygraph", "inference", "onnx")
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRECISIONS = ("fp32", "bf16", "auto")


def run(main):
    """Call `main()`; a UserError becomes one `error: ...` line on stderr and exit code 2."""
    try:
        main()
    except UserError as e:
        sys.stderr.write("error: {}\n".format(e))
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


def _missing_parents(path):
    """The directories `os.makedirs(path)` would create, deepest first."""
    created, path = [], os.path.abspath(path)
    while not os.path.exists(path):
        created.append(path)
        path = os.path.dirname(path)
    return created


def _unwritable_reason(path, created, error):
    existing = os.path.dirname(created[-1]) if created else os.path.abspath(path)
    if os.path.isfile(existing):
        return "it is a file" if existing == os.path.abspath(path) else "{} is a file".format(existing)
    return error.strerror or str(error)


def command_env():
    """The environment of a `python -m paddleseg_lite` child process (quickstart's steps, cross-validation's
    folds): this same package first on PYTHONPATH, also when it runs from a clone that is not installed."""
    path = os.pathsep.join(p for p in (PACKAGE_PARENT, os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path)


def check_save_dir(path, flag="--save_dir"):
    """Refuse an output directory that cannot be made or written, before any work is done.

    Probes by creating (and removing) a file there, since permission bits do not tell (root writes
    anyway; a read-only mount or /proc refuses anyway). Directories made for the probe are removed again.
    """
    created = _missing_parents(path)
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=path)
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise UserError("{} {}: cannot write output there ({}); choose a writable directory".format(
            flag, path, _unwritable_reason(path, created, e))) from e
    finally:
        for directory in created:
            with contextlib.suppress(OSError):  # absent (not made) or no longer empty
                os.rmdir(directory)


def set_device(device, device_id=None):
    """Select the device ('gpu' falls back to CPU, with a log line, when CUDA is unavailable; xpu/npu/mlu:
    `paddleseg_flags.device_place`), `device_id` (PaddleSeg's predict flag) the card, and, under
    `paddle.distributed.launch`, join the process group."""
    if device not in DEVICES[2:]:
        device = resolve_device(device, "--device")
    device = device_place(device, device_id)
    if device == "gpu":
        device = "gpu:{}".format(paddle.distributed.ParallelEnv().dev_id)
    paddle.set_device(device)
    setup_cpu_threads()
    if paddle.distributed.get_world_size() > 1 and not paddle.distributed.is_initialized():
        paddle.distributed.init_parallel_env()
    return device


def add_run_flags(parser):
    """One flag per run knob of `TrainSettings` (`--save_interval`, `--seed`, ...): each overrides the
    config key of the same name; an absent flag leaves the config's value. A switch with an 'auto' value
    (`--to_static_training`) means True alone and takes True / False / auto as a value."""
    for field in dataclasses.fields(TrainSettings):
        help_text = field.metadata["help"] + " (config key {})".format(field.name)
        choices = field.metadata.get("choices")
        if field.type is bool:
            parser.add_argument("--" + field.name, action="store_true", default=None, help=help_text)
        elif choices and True in choices:
            parser.add_argument("--" + field.name, nargs="?", const=True, type=parse_value, default=None,
                                choices=choices, help=help_text)
        else:
            kind = str if choices or field.type is str else int
            parser.add_argument("--" + field.name, type=kind, default=None, choices=choices, help=help_text)


def run_flags(args):
    """The run-knob flags the user gave, as {config key: value} (for `Config(..., **run_keys)`)."""
    return {key: getattr(args, key) for key in RUN_KEYS if getattr(args, key) is not None}


def add_model_args(parser):
    """The flags val.py and predict.py share to build and load a model."""
    parser.add_argument("--config", default=None, help=CONFIG_HELP + " (required unless --model)")
    parser.add_argument("--model_path", nargs="+", default=None, help="weights file, e.g. "
                        "output/best_model/model.pdparams (required unless --model); several files of the config's "
                        "model: an ensemble, averaging their class probabilities")
    parser.add_argument("--device", default="gpu", choices=DEVICES, help="gpu falls back to cpu without CUDA")
    parser.add_argument("--opts", nargs="+", default=None, help="overrides: key.subkey=value ...")


def add_engine_args(parser):
    """--engine / --precision, the same defaults in val.py and predict.py (fp32: the same model gives the same
    pixels in both): run the model in dygraph, Paddle Inference (oneDNN on CPU) or ONNX Runtime."""
    parser.add_argument("--engine", default="auto", choices=ENGINES,
                        help="auto: on CPU ONNX Runtime for fp32 and Paddle Inference (oneDNN) for bf16 (both "
                             "several times faster than dygraph), dygraph on GPU; onnx: ONNX Runtime on CPU, fp32")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="fp32 (default): the dygraph model's predictions; bf16: Paddle Inference in bfloat16 "
                             "on CPU (~1.7x faster on CPUs with native bf16, predictions may differ slightly); "
                             "auto: bf16 when the CPU has native bf16, else fp32")


def _check_onnx_engine(args, on_cpu):
    """--engine onnx runs fp32 on CPU: refuse other requests before any work, and missing packages."""
    if not on_cpu:
        raise UserError("--engine onnx runs on CPU only (ONNX Runtime's CPU provider); use --device cpu, or "
                        "--engine dygraph/inference on the GPU")
    if args.precision == "bf16":
        raise UserError("--engine onnx runs fp32 only (--precision bf16 given); use --engine inference for bf16")
    for module in ("onnxruntime", "paddle2onnx"):
        require(module)


def load_members(cfg, model_path):
    """The config's model with `model_path` loaded, as a list: one model, or for several paths (an ensemble) one
    model per path (`cfg.model`, then freshly built ones), each loaded strictly, so that weights of another
    architecture or class count are refused naming their file."""
    paths = weights_list(model_path)
    if len(paths) < 2:
        load_entire_model(cfg.model, paths[0] if paths else None)
        return [cfg.model]
    logger.info("Ensemble of {} {} models ({}): class probabilities averaged per image, after each member's "
                "test-time augmentation".format(len(paths), type(cfg.model).__name__, ", ".join(paths)))
    members = []
    for i, path in enumerate(paths):
        model = cfg.model if i == 0 else build_model(cfg.dic)
        try:
            load_entire_model(model, path, strict=True)
        except UserError as e:
            raise UserError("--model_path, ensemble member {} of {}: {} (every member must be trained with the config "
                            "{})".format(i + 1, len(paths), e, cfg.path)) from None
        members.append(model)
    return members


def load_model(cfg, args):
    """Build the config's model, load --model_path, and wrap it for the chosen --engine; several --model_path
    give an `Ensemble` of one engine model per member (the engine chosen for the first).

    `--engine auto` on CPU: ONNX Runtime for fp32 (~11% faster per image than Paddle Inference oneDNN
    fp32 on UNet-64 584x565, same predictions to ~5e-6), Paddle Inference for bf16 (ONNX Runtime has no
    fast bf16 CPU path); each falls back to the next (Paddle Inference, then dygraph) with one log line.
    """
    on_cpu = paddle.get_device().startswith("cpu")
    if args.engine == "onnx":
        _check_onnx_engine(args, on_cpu)
    members = load_members(cfg, args.model_path)
    first, engine = _on_engine(members[0], cfg, args, on_cpu)
    if len(members) == 1:
        return first
    same = argparse.Namespace(**{**vars(args), "engine": engine})
    return Ensemble([first] + [_on_engine(m, cfg, same, on_cpu)[0] for m in members[1:]],
                    names=weights_list(args.model_path))


def _on_engine(model, cfg, args, on_cpu):
    """(`model` run by --engine, the engine that runs it: dygraph, onnx or inference)."""
    if args.engine == "dygraph" or (args.engine == "auto" and not on_cpu):
        return model, "dygraph"
    model_config = cfg.dic.get("model")
    if args.engine == "onnx" or (args.engine == "auto" and resolve_precision(args.precision, "cpu") == "fp32"):
        try:
            return onnx_model(model, model_config=model_config), "onnx"
        except Exception as e:  # packages missing or an op paddle2onnx cannot convert
            if args.engine == "onnx":
                raise
            _fallback("ONNX Runtime", "Paddle Inference", e)
    device = "cpu" if on_cpu else "gpu"
    try:
        return inference_model(model, device=device, precision=args.precision, model_config=model_config), "inference"
    except Exception as e:  # export of an unusual model can fail: with --engine auto, dygraph still works
        if args.engine == "inference":
            raise
        _fallback("Paddle Inference", "dygraph", e)
        return model, "dygraph"


def _fallback(engine, instead, error):
    logger.warning("--engine auto: {} unavailable ({}: {}); using {}".format(
        engine, type(error).__name__, str(error).splitlines()[0] if str(error) else "", instead))


def add_inference_args(parser):
    """The flags val.py and predict.py share: augmentation and sliding-window inference."""
    parser.add_argument("--scales", nargs="+", type=float, default=1.0, help="scales for augmented inference")
    parser.add_argument("--flip_horizontal", action="store_true", help="add horizontally flipped inference")
    parser.add_argument("--flip_vertical", action="store_true", help="add vertically flipped inference")
    parser.add_argument("--is_slide", action="store_true", help="sliding-window inference")
    parser.add_argument("--crop_size", nargs=2, type=int, default=None, help="window size W H for --is_slide")
    parser.add_argument("--stride", nargs=2, type=int, default=None, help="window stride W H for --is_slide")
    parser.add_argument("--mirror_pad", action="store_true",
                        help="reflect-pad image borders before sliding (U-Net overlap-tile)")


def add_threshold_arg(parser, auto=False):
    """--threshold: the decision threshold of a binary model (`core.threshold`; checked by `parse_threshold`)."""
    parser.add_argument("--threshold", default=None, help=(
        "auto: pick the threshold that maximises F1 inside the FOV and store it with the weights; a number in "
        "[0, 1]: evaluate at it. " if auto else "a number in [0, 1]: ") + "A pixel is vessel where its vessel "
        "probability is >= the threshold (binary models). Default: the stored threshold, else argmax")


def inference_options(args, test_config, aug_flag):
    """The config's test_config with the shared flags merged in as PaddleSeg does (only when their switch
    is on), as `(InferenceOptions, auc_roc)`."""
    config = dict(test_config)
    if getattr(args, aug_flag):
        config.update(aug_eval=True, scales=args.scales, flip_horizontal=args.flip_horizontal,
                      flip_vertical=args.flip_vertical)
    if args.is_slide:  # the config's crop_size / stride stay unless a flag gives them
        config.update({k: v for k, v in (("is_slide", True), ("crop_size", args.crop_size), ("stride", args.stride))
                       if v is not None})
    if args.mirror_pad:
        config["mirror_pad"] = True
    return InferenceOptions.from_test_config(config), bool(config.get("auc_roc"))
