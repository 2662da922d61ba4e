"""Build objects from config dicts: the one place where `type:` becomes a Python object.

`build_component` is recursive (dicts with `type`, also inside lists such as transform chains) and
checks keyword arguments against the constructor signature before calling, so a typo is reported with
its dotted config path, the type and the valid arguments. The `build_*` helpers add the cross-section
rules: dataset facts (num_classes, ignore_index, img_channels) flow into the model and the losses, the
`loss: {types, coef}` form, the optimizer and the learning-rate schedule.
"""
import copy
import difflib
import inspect
import re

import paddle

from paddleseg_lite import registry as manager
from paddleseg_lite.models.losses import LossSet
from paddleseg_lite.transforms import Compose
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.labels import binary_ok
from paddleseg_lite.utils.validate import check_int, check_number, did_you_mean

_NESTED_REGISTRY = {"transforms": manager.TRANSFORMS, "backbone": manager.BACKBONES,
                    "losses": manager.LOSSES}


def _lookup(type_name, registry, path):
    try:
        if registry is None:
            return manager.find(type_name)[1]
        return registry[type_name]
    except KeyError as e:
        raise UserError("{}: {}".format(path, e.args[0]))


def _signature_params(obj):
    target = obj.__init__ if inspect.isclass(obj) else obj
    params = list(inspect.signature(target).parameters.values())
    if inspect.isclass(obj):
        params = params[1:]  # self
    return params


def check_arguments(obj, kwargs, path):
    """Raise a UserError when `kwargs` do not fit the signature of `obj` (unknown or missing names)."""
    params = _signature_params(obj)
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    where = "{} ({})".format(path, obj.__name__)
    for key in kwargs:
        if key not in names:
            raise UserError("{}: unknown argument '{}'.{} Valid arguments: {}".format(
                where, key, did_you_mean(key, names), ", ".join(names)))
    missing = [p.name for p in params if p.default is p.empty and p.kind != p.VAR_POSITIONAL
               and p.name not in kwargs]
    if missing:
        raise UserError("{}: missing required argument(s) {}. Valid arguments: {}".format(
            where, ", ".join(missing), ", ".join(names)))


def _build_value(value, path, registry):
    if isinstance(value, dict) and "type" in value:
        return build_component(value, path, registry)
    if isinstance(value, list):
        return [_build_value(v, "{}[{}]".format(path, i), registry) for i, v in enumerate(value)]
    return value


def build_component(cfg, path, registry=None):
    """Build the object described by `cfg` (a dict with `type`), recursively.

    Args:
        cfg (dict): `{type: Name, **kwargs}`; not modified.
        path (str): Its dotted config path, used in error messages.
        registry (ComponentManager, optional): Where to look `type` up; None searches all.
    """
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise UserError("{}: expected a mapping with a 'type' key, got {!r}".format(path, cfg))
    kwargs = copy.deepcopy(cfg)
    obj = _lookup(kwargs.pop("type"), registry, path)
    kwargs = {k: _build_value(v, "{}.{}".format(path, k), _NESTED_REGISTRY.get(k)) for k, v in kwargs.items()}
    check_arguments(obj, kwargs, path)
    try:
        return obj(**kwargs)
    except (UserError, ValueError, TypeError) as e:
        raise UserError(_located(str(e), path, obj.__name__))


def _located(text, path, name):
    """A constructor's error message placed in the config: `path.arg (Name) must be ...` for the
    one-argument messages of `utils.validate` ("Name: arg must be ..."), else `path (Name): text`."""
    text = text[len(name) + 2:] if text.startswith(name + ": ") else text
    arg = re.match(r"(\w+(?:\[\d+\])?) must be ", text)
    if arg:
        return "{}.{} ({}) {}".format(path, arg.group(1), name, text[arg.end(1) + 1:])
    return "{} ({}): {}".format(path, name, text)


def dataset_facts(dic):
    """num_classes / ignore_index / img_channels declared by the datasets of the config.

    A value comes from the dataset's config keys or, for named datasets, from the class constants
    (NUM_CLASSES, IGNORE_INDEX, IMG_CHANNELS). Train and val must agree.
    """
    facts = {}
    for key in ("train_dataset", "val_dataset"):
        cfg = dic.get(key)
        if not isinstance(cfg, dict) or "type" not in cfg:
            continue
        cls = _lookup(cfg["type"], manager.DATASETS, key)
        for name, const in (("num_classes", "NUM_CLASSES"), ("ignore_index", "IGNORE_INDEX"),
                            ("img_channels", "IMG_CHANNELS")):
            value = cfg.get(name, getattr(cls, const, None))
            if value is None:
                continue
            if name in facts and facts[name] != value:
                raise UserError("train_dataset and val_dataset disagree on {}: {} vs {}".format(
                    name, facts[name], value))
            facts[name] = value
    return facts


def _accepts(cfg, registry, name, path):
    obj = _lookup(cfg["type"], registry, path)
    params = _signature_params(obj)
    return any(p.name == name or p.kind == p.VAR_KEYWORD for p in params)


def _sync(cfg, key, value, path, registry, compatible=lambda mine, data: mine == data):
    """Fill cfg[key] from the dataset, or fail when the config sets a conflicting value."""
    if value is None or not _accepts(cfg, registry, key, path):
        return
    if cfg.get(key) is None:
        cfg[key] = value
        logger.info("{}.{} = {} (taken from the dataset)".format(path, key, value))
    elif not compatible(cfg[key], value):
        raise UserError("{}.{} is {} but the dataset says {}; make them equal (or drop it from {} "
                        "to take the dataset's)".format(path, key, cfg[key], value, path))


def build_dataset(dic, key):
    """Build `train_dataset` or `val_dataset`."""
    return build_component(dic[key], key, manager.DATASETS)


def build_val_transforms(dic):
    """The `val_dataset.transforms` list built and wrapped in Compose (for prediction and export)."""
    items = dic["val_dataset"].get("transforms") or []
    built = _build_value(items, "val_dataset.transforms", manager.TRANSFORMS)
    return Compose(built, img_channels=dataset_facts(dic).get("img_channels", 3))


def build_model(dic):
    """Build `model`, taking num_classes / in_channels from the dataset when unset.

    A 1-class (sigmoid) model on a 2-class dataset is a binary model and is allowed.
    """
    cfg = copy.deepcopy(dic["model"])
    if "type" not in cfg:
        raise UserError("model: 'type' is missing (e.g. type: UNet)")
    facts = dataset_facts(dic)
    _sync(cfg, "num_classes", facts.get("num_classes"), "model", manager.MODELS, binary_ok)
    _sync(cfg, "in_channels", facts.get("img_channels"), "model", manager.MODELS)
    return build_component(cfg, "model", manager.MODELS)


def _loss_items(loss_cfg):
    for key in loss_cfg:
        if key not in ("types", "coef"):
            raise UserError("loss: unknown key '{}'.{} Valid keys: types, coef".format(
                key, did_you_mean(key, ("types", "coef"))))
    types, coef = loss_cfg.get("types"), loss_cfg.get("coef")
    if not isinstance(types, list) or not isinstance(coef, list) or not types:
        raise UserError("loss must have a non-empty list 'types' and a list 'coef', e.g. "
                        "loss: {types: [{type: DiceLoss}], coef: [1]}")
    if len(types) == 1 and len(coef) > 1:
        types = [types[0]] * len(coef)
    if len(types) != len(coef):
        raise UserError("loss.types has {} entries but loss.coef has {}; give one coef per loss".format(
            len(types), len(coef)))
    for i, value in enumerate(coef):
        check_number(None, "loss.coef[{}]".format(i), value, 0, error=UserError)
    return types, coef


def _sync_ignore_index(cfg, ignore_index, path):
    _sync(cfg, "ignore_index", ignore_index, path, manager.LOSSES)
    for i, sub in enumerate(cfg.get("losses") or []):
        if isinstance(sub, dict) and "type" in sub:
            _sync_ignore_index(sub, ignore_index, "{}.losses[{}]".format(path, i))


def build_loss(dic):
    """Build `loss: {types, coef}` into a `LossSet`."""
    types, coef = _loss_items(dic["loss"])
    ignore_index = dataset_facts(dic).get("ignore_index")
    built = []
    for i, cfg in enumerate(types):
        cfg, path = copy.deepcopy(cfg), "loss.types[{}]".format(i)
        if not isinstance(cfg, dict) or "type" not in cfg:
            raise UserError("{}: expected a mapping with a 'type' key, got {!r}".format(path, cfg))
        _sync_ignore_index(cfg, ignore_index, path)
        built.append(build_component(cfg, path, manager.LOSSES))
    return LossSet(built, coef)


# Paddle's schedulers and optimizers check few of their arguments, with asserts that omit the value
# (power, decay_steps) or not at all (momentum 1.5, weight_decay -1, end_lr -1 train to garbage): the
# arguments PaddleSeg configs use are checked first, by config key; Paddle's own errors on the others
# are re-raised as one line naming the section (`_make`).
# A learning rate of 0 is allowed: it only refreshes BatchNorm statistics (a frozen-weights run).
_NUMBER_RANGES = {
    "learning_rate": dict(low=0), "warmup_start_lr": dict(low=0), "end_lr": dict(low=0),
    "eta_min": dict(low=0), "power": dict(low=0, low_open=True), "gamma": dict(low=0, low_open=True),
    "momentum": dict(low=0, high=1, high_open=True), "beta1": dict(low=0, high=1, high_open=True),
    "beta2": dict(low=0, high=1, high_open=True), "epsilon": dict(low=0, low_open=True),
    "weight_decay": dict(low=0)}
_INT_MIN = {"warmup_iters": 0, "decay_steps": 1, "T_max": 1, "step_size": 1}


def _check_paddle_args(cfg, section):
    for key, value in cfg.items():
        if key in _NUMBER_RANGES:
            check_number(None, "{}.{}".format(section, key), value, error=UserError, **_NUMBER_RANGES[key])
        elif key in _INT_MIN:
            check_int(None, "{}.{}".format(section, key), value, _INT_MIN[key], error=UserError)


def _make(cls, section, **kwargs):
    """`cls(**kwargs)`, with Paddle's argument errors as a UserError naming the config section."""
    try:
        return cls(**kwargs)
    except (AssertionError, ValueError, TypeError) as e:
        raise UserError("{} ({}): {}".format(section, cls.__name__, " ".join(str(e).split())))


def build_lr_scheduler(dic):
    """Build any `paddle.optimizer.lr` class by name, with PaddleSeg's warmup and decay defaults."""
    cfg = copy.deepcopy(dic["lr_scheduler"])
    name = cfg.pop("type", None)
    lr = paddle.optimizer.lr
    available = [n for n in dir(lr) if n != "LRScheduler" and inspect.isclass(getattr(lr, n))
                 and issubclass(getattr(lr, n), lr.LRScheduler)]
    if name not in available:
        close = difflib.get_close_matches(str(name), available, n=2)
        hint = " Did you mean {}?".format(" or ".join(close)) if close else ""
        raise UserError("lr_scheduler.type '{}' is not a paddle.optimizer.lr class.{} Available: {}".format(
            name, hint, ", ".join(available)))
    _check_paddle_args(cfg, "lr_scheduler")
    warmup_iters, warmup_start_lr = cfg.pop("warmup_iters", 0), cfg.pop("warmup_start_lr", None)
    if bool(warmup_iters) != (warmup_start_lr is not None):
        raise UserError("lr_scheduler: set warmup_iters and warmup_start_lr together (or neither)")
    if warmup_iters and "learning_rate" not in cfg:
        raise UserError("lr_scheduler: warmup_iters needs learning_rate (the rate the warmup ends at)")
    remaining = max(int(dic["iters"]) - int(warmup_iters), 1)
    if name == "PolynomialDecay":
        cfg.setdefault("decay_steps", remaining)
    elif name == "CosineAnnealingDecay":
        cfg.setdefault("T_max", remaining)
    check_arguments(getattr(lr, name), cfg, "lr_scheduler")
    scheduler = _make(getattr(lr, name), "lr_scheduler", **cfg)
    if warmup_iters:
        scheduler = _make(lr.LinearWarmup, "lr_scheduler", learning_rate=scheduler, warmup_steps=warmup_iters,
                          start_lr=float(warmup_start_lr), end_lr=float(cfg["learning_rate"]))
    return scheduler


_OPTIMIZERS = {"sgd": "SGD", "momentum": "Momentum", "adam": "Adam", "adamw": "AdamW"}


def build_optimizer(opt_cfg, model, lr_scheduler):
    """Build the optimizer; `SGD` with `momentum` becomes Paddle's Momentum (as in PaddleSeg).

    Args:
        opt_cfg (dict): `{type, weight_decay, momentum, ...}` (other keys go to the Paddle class).
        model (paddle.nn.Layer): Whose parameters are optimized.
        lr_scheduler (LRScheduler | float): The learning rate.
    """
    cfg = copy.deepcopy(opt_cfg)
    name = _OPTIMIZERS.get(str(cfg.pop("type", "")).lower())
    if name is None:
        raise UserError("optimizer.type '{}' is not supported; use one of SGD, Momentum, Adam, AdamW".format(
            opt_cfg.get("type")))
    if name == "SGD" and cfg.get("momentum"):
        name = "Momentum"
        logger.info("optimizer: SGD with momentum {} -> paddle.optimizer.Momentum".format(cfg["momentum"]))
    elif name == "SGD":
        cfg.pop("momentum", None)
    _check_paddle_args(cfg, "optimizer")
    cls = getattr(paddle.optimizer, name)
    check_arguments(cls, dict(cfg, learning_rate=lr_scheduler, parameters=None), "optimizer")
    return _make(cls, "optimizer", learning_rate=lr_scheduler, parameters=model.parameters(), **cfg)
