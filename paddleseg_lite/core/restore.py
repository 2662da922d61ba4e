"""Restoring a checkpoint into the model and optimizer exactly, or refusing with one line.

`CheckpointManager.restore` calls `restore_exactly` before any training step. Paddle alone loads what
matches and skips the rest: a model of another shape keeps its random weights, an optimizer of another
type starts with fresh moments (or fails with an AssertionError at its first step). Here every
parameter, every optimizer accumulator and the LR scheduler's state must match the checkpoint.

Optimizer accumulators are named after the parameter's tensor name (`conv2d_0.w_0_moment1_0`), which
depends on what else the process built before the model; they are matched through the model's
structured names (`encode.double_conv.0._conv.weight`) instead, so a checkpoint also loads into a
model built after others in the same process (notebooks, the Python API).
"""
import os
import re

from paddle.optimizer.lr import LambdaDecay, LRScheduler

from paddleseg_lite.models.checkpoint_io import check_complete, match_state_dict
from paddleseg_lite.static.optimizer_state import ensure_accumulators
from paddleseg_lite.utils.errors import UserError

SCHEDULER, MASTER = "LR_Scheduler", "master_weights"
_COUNTER = re.compile(r"_\d+$")


def _param_keys(state):
    """{tensor name: structured key} of a state dict (aliases: the first key in sorted order)."""
    keys = {}
    for key in sorted(state):
        name = getattr(state[key], "name", None)
        if isinstance(name, str):
            keys.setdefault(name, key)
    return keys


def _by_parameter(opt_state, param_keys):
    """{(structured key, accumulator kind): accumulator name} of an optimizer state dict; an accumulator
    of no known parameter keeps its own name as the key."""
    prefixes = sorted(param_keys, key=len, reverse=True)
    found = {}
    for name in opt_state:
        if name in (SCHEDULER, MASTER):
            continue
        prefix = next((p for p in prefixes if name.startswith(p + "_")), None)
        key = (param_keys[prefix], _COUNTER.sub("", name[len(prefix) + 1:])) if prefix else (name, "")
        found[key] = name
    return found


def _kinds(accumulators):
    kinds = sorted({kind for _, kind in accumulators if kind})
    return "per-parameter " + ", ".join(kinds) if kinds else "no per-parameter state"


def _check_accumulators(expected, saved, expected_state, opt_state, optimizer, path):
    name = type(optimizer).__name__
    missing = [expected[k] for k in expected if k not in saved]
    unexpected = [saved[k] for k in saved if k not in expected]
    if (missing or unexpected) and _kinds(expected) != _kinds(saved):
        raise UserError("{}: the optimizer state holds {} but the config's {} keeps {}: the "
                        "checkpoint was made with another optimizer; set optimizer.type to the one it was "
                        "trained with".format(path, _kinds(saved), name, _kinds(expected)))
    if missing:
        raise UserError("{}: the optimizer state lacks {} of the {} accumulators the config's {} needs (first: {}); "
                        "the checkpoint was made with another model or optimizer configuration".format(
                            path, len(missing), len(expected), name, missing[0]))
    if unexpected:
        raise UserError("{}: the optimizer state has {} accumulators the config's {} does not (first: {}); the "
                        "checkpoint was made with another model or optimizer configuration".format(
                            path, len(unexpected), name, unexpected[0]))
    for key, accumulator in expected.items():
        want, have = list(expected_state[accumulator].shape), list(opt_state[saved[key]].shape)
        if want != have:
            raise UserError("{}: optimizer accumulator {} has shape {} in the checkpoint but {} in this run; the "
                            "checkpoint was made with another model configuration".format(path, saved[key], have,
                                                                                         want))


def _check_scheduler(optimizer, opt_state, path):
    scheduler = optimizer._learning_rate
    needs = isinstance(scheduler, LRScheduler) and not isinstance(scheduler, LambdaDecay)
    saved = opt_state.get(SCHEDULER)
    if needs and not (isinstance(saved, dict) and set(scheduler.state_dict()) <= set(saved)):
        raise UserError("{}: the checkpoint holds no state for the config's {} learning-rate scheduler{}; use "
                        "the lr_scheduler it was trained with".format(
                            path, type(scheduler).__name__,
                            "" if saved is None else " (it holds {})".format(", ".join(sorted(saved)))))
    if saved is not None and not isinstance(scheduler, LRScheduler):
        raise UserError("{}: the checkpoint holds a learning-rate scheduler's state but the config has none; use "
                        "the lr_scheduler it was trained with".format(path))


def restore_optimizer(optimizer, model, model_state, opt_state, path):
    """Load `opt_state` (saved with the weights `model_state`) into `optimizer` of `model`, renaming its
    accumulators to this process's tensor names.

    Raises:
        UserError: an accumulator missing, extra or of another shape, or the LR scheduler state missing.
    """
    ensure_accumulators(optimizer)  # the accumulators this run needs, with their shapes
    expected_state = optimizer.state_dict()
    current_keys = _param_keys(model.state_dict())
    saved_keys = _param_keys(model_state) or current_keys
    expected, saved = _by_parameter(expected_state, current_keys), _by_parameter(opt_state, saved_keys)
    _check_accumulators(expected, saved, expected_state, opt_state, optimizer, path)
    _check_scheduler(optimizer, opt_state, path)
    renamed = {expected[key]: opt_state[saved[key]] for key in expected}
    if SCHEDULER in opt_state:
        renamed[SCHEDULER] = opt_state[SCHEDULER]
    if MASTER in opt_state:
        current_name = {key: name for name, key in current_keys.items()}
        renamed[MASTER] = {current_name.get(saved_keys.get(name), name): value
                           for name, value in opt_state[MASTER].items()}
    optimizer.set_state_dict(renamed)


def restore_exactly(model, optimizer, model_state, opt_state, path):
    """Load a checkpoint directory's weights and optimizer state into `model` and `optimizer`.

    Raises:
        UserError: naming the checkpoint file and what differs, when any state cannot be restored exactly.
    """
    report = match_state_dict(model, model_state)
    check_complete(report, os.path.join(path, "model.pdparams"), model, allow_unexpected=False)
    model.set_state_dict(report["loadable"])
    restore_optimizer(optimizer, model, model_state, opt_state, os.path.join(path, "model.pdopt"))
