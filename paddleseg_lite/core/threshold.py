"""The decision threshold of a binary (vessel) model: which one is in use, where it is kept, how it is tuned.

Precedence: an explicit `--threshold` > the threshold stored with the model > argmax (PaddleSeg's rule);
`resolve_threshold` logs one line saying which one is in use and where it came from.

Kept with the model: `tools/val.py --threshold auto` picks the threshold that maximises F1 inside the FOV
from the AUC score histogram (`utils.metrics.threshold`) and writes it into the `.pdstates` next to the
weights (`out/best_model/model.pdparams` -> `out/best_model/model.pdstates`, created when missing,
written atomically), with a digest of the weights file: a threshold whose weights have changed since
(retrained, copied over) is ignored with a warning. tools/predict.py and tools/val.py use it by default;
tools/export.py copies it into deploy.yaml (and into the graph for output_op argmax), which
deploy/python/infer.py uses. A number given to `val --threshold` is evaluated, not stored: an
exploratory evaluation must not change what later predictions do; only tuning (`auto`) stores.

An ensemble (several `--model_path`): `--threshold T` wins; else, when every member stores a threshold, their
mean (the line names them); else argmax. `val --threshold auto` on an ensemble tunes and logs the threshold
of the averaged probabilities but stores it nowhere: no file belongs to the ensemble, and writing it into
each member's `.pdstates` would silently change that member's own predictions; the log line says to pass
it as `--threshold T` to predict / export with the same members.
"""
import dataclasses
import hashlib
import os
import urllib.parse
from typing import Optional

import paddle

from paddleseg_lite.core.checkpoint_files import read_checkpoint_file, write_file
from paddleseg_lite.cvlibs.builder import dataset_facts
from paddleseg_lite.models.checkpoint_io import resolve_weights_path
from paddleseg_lite.models.ensemble import weights_list
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.labels import num_classes_of
from paddleseg_lite.utils.metrics.threshold import best_f1_threshold

AUTO = "auto"
FLAG = "--threshold"


@dataclasses.dataclass(frozen=True)
class Decision:
    """The threshold in use: `value` None means argmax; `tune` means val tunes one after evaluating."""
    value: Optional[float]
    source: str
    tune: bool = False


def parse_threshold(text, allow_auto):
    """The `--threshold` flag as None, 'auto' (when `allow_auto`) or a float in [0, 1].

    Raises:
        UserError: anything else (text, negative, > 1, NaN), naming the flag and the valid values.
    """
    if text is None:
        return None
    if str(text).strip().lower() == AUTO:
        if allow_auto:
            return AUTO
        raise UserError("{} auto: a threshold is tuned by tools/val.py {} auto, which stores it with the model "
                        "for this tool to use; here give a number in [0, 1] or leave the flag out".format(FLAG, FLAG))
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise UserError("{} must be {}a number in [0, 1] (the foreground probability from which a pixel is "
                        "vessel), got {!r}".format(FLAG, "'auto' or " if allow_auto else "", text))
    return value


def model_classes(cfg):
    """Classes of the config's model (a 1-channel sigmoid model counts as 2), building it first."""
    cfg.model  # built first, so that a mistake in the model's config is reported as the builder words it
    return num_classes_of(cfg.dic["model"].get("num_classes") or dataset_facts(cfg.dic)["num_classes"])


def states_path(model_path):
    """The `.pdstates` kept next to the weights `model_path` (file or checkpoint directory); None for a URL."""
    if not model_path or urllib.parse.urlparse(str(model_path)).scheme in ("http", "https", "ftp", "file"):
        return None
    path = os.path.expanduser(str(model_path))
    if os.path.isdir(path):
        return os.path.join(path, "model.pdstates")
    return os.path.splitext(path)[0] + ".pdstates"


def _weights_digest(model_path):
    digest = hashlib.sha256()
    with open(resolve_weights_path(model_path), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def stored_threshold(model_path):
    """(threshold, states path) stored with the weights `model_path`, or None when there is none."""
    path = states_path(model_path)
    if path is None or not os.path.isfile(path):
        return None
    states = read_checkpoint_file(path, "training state")
    if states.get("threshold") is None:
        return None
    if states.get("threshold_weights") != _weights_digest(model_path):
        logger.warning("{}: its threshold {:.4f} was tuned for other weights than {} (they changed since), so it "
                       "is not used; tune it again with tools/val.py {} auto".format(
                           path, states["threshold"], model_path, FLAG))
        return None
    return float(states["threshold"]), path


def resolve_threshold(value, model_path, num_classes=None):
    """The threshold in use: `value` (parse_threshold's) > the one stored with `model_path` (for several paths,
    an ensemble: the mean of its members' when each stores one) > argmax.

    Logs one line for a binary model. `num_classes` None (unknown before running) skips the binary check.

    Raises:
        UserError: a threshold given for a model of more than 2 classes.
    """
    binary = num_classes is None or num_classes_of(num_classes) == 2
    if value is not None and not binary:
        raise UserError("{} {}: a decision threshold needs a binary model (2 classes or 1 sigmoid channel); this "
                        "model has {} classes, whose pixels take the argmax class: leave {} out".format(
                            FLAG, value, num_classes, FLAG))
    if not binary:
        return Decision(None, "argmax")
    paths = weights_list(model_path)
    if value == AUTO:
        decision = Decision(None, "{} auto: tuned after the evaluation, whose lines before it are at argmax{}".format(
            FLAG, "; an ensemble's is logged, not stored" if len(paths) > 1 else ""), tune=True)
    elif value is not None:
        decision = Decision(value, FLAG)
    else:
        decision = _stored_decision(paths)
    shown = AUTO if decision.tune else "argmax" if decision.value is None else "{:.4f}".format(decision.value)
    logger.info("Decision threshold: {} ({})".format(shown, decision.source))
    return decision


def _stored_decision(paths):
    """The Decision without --threshold: the stored threshold of one model, the mean of an ensemble's."""
    if len(paths) < 2:
        stored = stored_threshold(paths[0] if paths else None)
        if stored:
            return Decision(stored[0], "stored in {}".format(stored[1]))
        return Decision(None, "no {} given and none stored with the model".format(FLAG))
    stored = [stored_threshold(path) for path in paths]
    lacking = [path for path, found in zip(paths, stored) if not found]
    if lacking:
        return Decision(None, "no {} given, and {} of the {} ensemble members store none (first: {}); an ensemble "
                              "uses the mean of its members' thresholds only when each has one".format(
                                  FLAG, len(lacking), len(paths), lacking[0]))
    values = [found[0] for found in stored]
    return Decision(sum(values) / len(values), "mean of the {} ensemble members' stored thresholds {}".format(
        len(values), ", ".join("{:.4f}".format(v) for v in values)))


def tuned_threshold(evaluator, metrics):
    """The F1-maximising threshold from `evaluator`'s AUC histogram (inside the FOV when there is one), logged
    as one [EVAL] line against F1 at argmax (`metrics['dice_fg']`); returns `threshold_*` entries.

    Raises:
        UserError: the validation set has no vessel pixel to tune on.
    """
    region, where = ("fov", "inside FOV") if evaluator.has_fov else ("image", "whole image")
    try:
        tuned = best_f1_threshold(evaluator.auc[region].counts)
    except ValueError:
        raise UserError("{} auto: the validation set has no vessel (class 1) pixel ({}), so no threshold can be "
                        "tuned on it; check val_dataset's labels".format(FLAG, where)) from None
    logger.info("[EVAL] Threshold ({}): tuned {:.4f} Dice/F1: {:.4f} Se: {:.4f} Sp: {:.4f} Acc: {:.4f} "
                "Precision: {:.4f} | at argmax Dice/F1: {:.4f}".format(
                    where, tuned["threshold"], tuned["f1"], tuned["sensitivity"], tuned["specificity"],
                    tuned["accuracy"], tuned["precision"], metrics["dice_fg"]))
    keys = ("threshold", "f1", "sensitivity", "specificity", "accuracy", "precision")
    return {"threshold": tuned["threshold"], **{"threshold_" + k: tuned[k] for k in keys[1:]}}


def store_threshold(model_path, tuned):
    """Write `tuned['threshold']` into the `.pdstates` next to `model_path` (rank 0); returns its path or None.
    An ensemble's (several paths) is logged with how to use it, and not stored (see the module docstring)."""
    paths = weights_list(model_path)
    if len(paths) > 1:
        logger.info("Threshold {:.4f} of the ensemble of {} members is not stored (no file belongs to the ensemble, "
                    "and each member keeps its own); give {} {:.4f} to tools/predict.py and tools/export.py with the "
                    "same --model_path".format(tuned["threshold"], len(paths), FLAG, tuned["threshold"]))
        return None
    model_path = paths[0] if paths else model_path
    path = states_path(model_path)
    if paddle.distributed.get_rank() != 0:
        return path
    if path is None:
        logger.warning("{} auto: {} is a URL, so the tuned threshold is not stored; give {} {:.4f} to the other "
                       "tools".format(FLAG, model_path, FLAG, tuned["threshold"]))
        return None
    states = read_checkpoint_file(path, "training state") if os.path.isfile(path) else {}
    states.update(threshold=tuned["threshold"], threshold_f1=tuned["threshold_f1"],
                  threshold_weights=_weights_digest(model_path))
    write_file(path, states, hint="; the weights are intact")
    logger.info("Threshold {:.4f} stored in {}: tools/val.py, tools/predict.py and tools/export.py use it with "
                "these weights unless {} is given".format(tuned["threshold"], path, FLAG))
    return path


def deploy_threshold(value, deploy, path):
    """The threshold deploy/python/infer.py applies: `value` (--threshold) > deploy.yaml's `threshold` > argmax.

    An export with output_op argmax returns class ids, thresholded in its graph at deploy.yaml's threshold:
    another threshold cannot be applied to them. Logs one line.

    Raises:
        UserError: `value` differs from what an argmax export applies.
    """
    stored = deploy.get("threshold")
    if deploy.get("output_op", "argmax") == "argmax" and value is not None and value != stored:
        raise UserError("{} {}: {} outputs class ids (output_op argmax, {}); export again with tools/export.py "
                        "{} {}, or with --output_op softmax to choose the threshold here".format(
                            FLAG, value, path, "thresholded at {} in the graph".format(stored) if stored is not None
                            else "argmax in the graph", FLAG, value))
    source = FLAG if value is not None else "deploy.yaml" if stored is not None else "none in deploy.yaml"
    value = value if value is not None else stored
    logger.info("Decision threshold: {} ({})".format("argmax" if value is None else "{:.4f}".format(value), source))
    return value
