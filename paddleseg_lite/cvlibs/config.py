"""Load a YAML config: `_base_` inheritance, deep merge, CLI overrides.

`load_yaml` resolves `_base_` files (relative to the including file, else a built-in config by name:
`_base_: drive_cpu/unet_drive_cpu`; recursively) and merges them:
dicts merge key by key, everything else (lists included) is replaced; a dict holding `_delete_: true`
or PaddleSeg's `_inherited_: false` replaces the base dict outright (at the top level of a file: no
base is inherited). With several bases, earlier bases win over later ones (PaddleSeg's rule). `Config`
adds the CLI overrides and builds the components lazily through `cvlibs.builder`.
"""
import ast
import codecs
import collections.abc
import copy
import os

import yaml

from paddleseg_lite.cvlibs import builder
from paddleseg_lite.cvlibs.builtin_configs import find_builtin, resolve_config
from paddleseg_lite.cvlibs.run_settings import RUN_KEYS, check_keys, train_settings
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.fileio import writing

_REPLACE_KEYS = ("_delete_", "_inherited_")
_DUMP_ORDER = ("batch_size", "iters", "train_dataset", "val_dataset", "optimizer", "lr_scheduler",
               "loss", "model")


def _replaces_base(node):
    return node.get("_delete_") is True or node.get("_inherited_") is False


def _strip_replace_keys(node):
    return {k: v for k, v in node.items() if k not in _REPLACE_KEYS}


def merge(child, base, child_file=None, origins=None, prefix=""):
    """Merge `child` over `base` (neither is modified).

    When `origins` is given, the leaves taken from `child` are recorded there as coming from `child_file`.
    """
    merged = copy.deepcopy(base)
    for key, value in child.items():
        if key in _REPLACE_KEYS:
            continue
        path = prefix + str(key)
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and not _replaces_base(value):
            merged[key] = merge(value, merged[key], child_file, origins, path + ".")
        else:
            if isinstance(value, dict):
                value = _strip_replace_keys(value)
            if origins is not None:
                for stale in [p for p in origins if p == path or p.startswith(path + ".")]:
                    del origins[stale]
                _record(value, child_file, origins, path)
            merged[key] = copy.deepcopy(value)
    return merged


def _record(value, file, origins, path):
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            _record(sub, file, origins, "{}.{}".format(path, key))
    else:
        origins[path] = file


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key given twice in one mapping (PyYAML silently keeps the last one,
    so the first setting would be lost without a word)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self._check_unique(node)
        return super().construct_mapping(node, deep)

    def _check_unique(self, node):
        first = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # keys merged in by `<<: *anchor` may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, collections.abc.Hashable):
                continue  # SafeLoader refuses these itself
            line = key_node.start_mark.line + 1
            if key in first:
                raise UserError("{}: line {}: duplicate key '{}' (first set at line {}); YAML keeps only the "
                                "last one, so remove one of them".format(self.name, line, key, first[key]))
            first[key] = line


def _read_yaml(path, chain):
    if not os.path.isfile(path):
        via = " (included from {})".format(" -> ".join(chain)) if chain else ""
        raise UserError("Config file not found: {}{}".format(path, via))
    if not path.endswith((".yml", ".yaml")):
        raise UserError("Config file must end with .yml or .yaml: {}".format(path))
    try:
        with codecs.open(path, "r", "utf-8") as f:
            dic = yaml.load(f, Loader=_UniqueKeyLoader) or {}
    except yaml.YAMLError as e:
        raise UserError("Invalid YAML in {}: {}".format(path, str(e).replace("\n", " ")))
    if not isinstance(dic, dict):
        raise UserError("Config {} must be a mapping of keys, got {}".format(path, type(dic).__name__))
    return dic


def load_yaml(path, origins=None, _chain=()):
    """Read `path` with its `_base_` files merged in.

    Args:
        path (str): The YAML file.
        origins (dict, optional): Filled with {dotted key: file it came from}.

    Returns:
        dict: The merged config.
    """
    path = os.path.abspath(path)
    if path in _chain:
        raise UserError("Cycle in _base_ includes: {}".format(" -> ".join(_chain + (path,))))
    origins = {} if origins is None else origins
    dic = _read_yaml(path, _chain)
    bases = dic.pop("_base_", [])
    bases = [bases] if isinstance(bases, str) else list(bases)
    if _replaces_base(dic):  # a top-level `_inherited_: false` drops the bases (PaddleSeg)
        bases = []
    merged = {}
    for base in reversed(bases):  # earlier bases win over later ones
        base_path = os.path.join(os.path.dirname(path), base)
        if not os.path.isfile(base_path):  # a built-in config by name: `_base_: drive_cpu/unet_drive_cpu`
            base_path = find_builtin(base) or base_path
        merged = merge(load_yaml(base_path, origins, _chain + (path,)), merged)
    return merge(dic, merged, path, origins)


def parse_value(text):
    """Parse an `--opts` value as a Python/YAML literal; anything else stays a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if isinstance(value, str) else value


def apply_opts(dic, opts):
    """Apply `--opts a.b.c=value` items to `dic` in place; intermediate keys must exist."""
    for item in opts or []:
        if item.count("=") != 1 or item.startswith("="):
            raise UserError("--opts item '{}' must look like key.subkey=value (exactly one '=')".format(item))
        dotted, text = item.split("=")
        keys = dotted.split(".")
        node = dic
        for depth, key in enumerate(keys[:-1]):
            if not isinstance(node.get(key), dict):
                raise UserError("--opts {}: '{}' is not a section of the config; cannot set it".format(
                    item, ".".join(keys[:depth + 1])))
            node = node[key]
        node[keys[-1]] = parse_value(text)


class Config:
    """A training/evaluation configuration loaded from YAML.

    Args:
        path (str): The YAML file, or the name of a built-in config (`quickstart/unet_synthetic_vessels`:
            `cvlibs.builtin_configs`); an existing file wins.
        learning_rate (float, optional): Overrides `lr_scheduler.learning_rate`.
        batch_size (int, optional): Overrides `batch_size` (per card).
        iters (int, optional): Overrides `iters`.
        to_static_training (bool | str, optional): Overrides `to_static_training` (True, False or 'auto').
        opts (list[str], optional): `key.subkey=value` overrides, applied last.
        **run_keys: Overrides of the run knobs (`save_interval=2`, `seed=3`, ...: see `TrainSettings`),
            as tools/train.py passes its flags; None values are ignored.

    Raises:
        UserError: for a missing (neither a file nor a built-in name) or invalid file, or an unknown
            top-level key.
    """

    def __init__(self, path, learning_rate=None, batch_size=None, iters=None, to_static_training=None, opts=None,
                 **run_keys):
        unknown = set(run_keys) - set(RUN_KEYS)
        if unknown:
            raise TypeError("Config: unknown run key(s) {}".format(", ".join(sorted(unknown))))
        self.path = path = resolve_config(path)
        self.origins = {}
        self.dic = load_yaml(path, self.origins)
        if learning_rate is not None:
            self.dic.setdefault("lr_scheduler", {})["learning_rate"] = learning_rate
            self.origins["lr_scheduler.learning_rate"] = "--learning_rate"
        flags = dict(run_keys, batch_size=batch_size, iters=iters, to_static_training=to_static_training)
        for key, value in flags.items():
            if value is not None:
                self.dic[key] = value
                self.origins[key] = "--" + key
        apply_opts(self.dic, opts)
        for item in opts or []:
            self.origins[item.split("=")[0]] = "--opts"
        check_keys(self.dic, path)
        self._built = {}

    def require(self, *keys):
        """Raise a UserError naming the first of `keys` missing from the config."""
        for key in keys:
            if self.dic.get(key) is None:
                raise UserError("No '{}' specified in the configuration file {}".format(key, self.path))

    def _cached(self, name, make):
        if name not in self._built:
            self._built[name] = make()
        return self._built[name]

    @property
    def batch_size(self):
        self.require("batch_size")
        return int(self.dic["batch_size"])

    @property
    def iters(self):
        self.require("iters")
        return int(self.dic["iters"])

    @property
    def train_settings(self):
        """The run knobs as a `TrainSettings`, with a concrete seed; they are also written into the
        config, so that `save` records every knob of the run."""
        self.require("batch_size", "iters")
        return self._cached("train_settings", self._resolve_train_settings)

    def _resolve_train_settings(self):
        settings = train_settings(self.dic).with_seed()
        self.dic.update(settings.as_dict())
        return settings

    def record_train_settings(self, settings):
        """Record the run's knobs as the Trainer resolved them (precision 'auto' becomes the precision
        that trains, which changes results), so that `save` writes the run."""
        self._built["train_settings"] = settings
        self.dic.update(settings.as_dict())

    @property
    def test_config(self):
        return dict(self.dic.get("test_config") or {})

    @property
    def train_dataset(self):
        self.require("train_dataset")
        return self._cached("train_dataset", lambda: builder.build_dataset(self.dic, "train_dataset"))

    @property
    def val_dataset(self):
        self.require("val_dataset")
        return self._cached("val_dataset", lambda: builder.build_dataset(self.dic, "val_dataset"))

    @property
    def val_transforms(self):
        """The val_dataset's transform chain as a Compose (no dataset files needed)."""
        self.require("val_dataset")
        return self._cached("val_transforms", lambda: builder.build_val_transforms(self.dic))

    @property
    def model(self):
        self.require("model")
        return self._cached("model", lambda: builder.build_model(self.dic))

    @property
    def loss(self):
        self.require("loss")
        return self._cached("loss", lambda: builder.build_loss(self.dic))

    @property
    def lr_scheduler(self):
        self.require("lr_scheduler", "iters")
        return self._cached("lr_scheduler", lambda: builder.build_lr_scheduler(self.dic))

    @property
    def optimizer(self):
        self.require("optimizer")
        return self._cached("optimizer", lambda: builder.build_optimizer(
            self.dic["optimizer"], self.model, self.lr_scheduler))

    def check_train(self):
        """Fail early, naming the key, when something training needs is missing, or a run knob or the
        learning-rate schedule has a bad value (before tools/train.py writes anything to save_dir)."""
        self.require("batch_size", "iters", "train_dataset", "optimizer", "lr_scheduler", "loss", "model")
        self.train_settings  # checks the run knobs (iters first: the schedule's length depends on it)
        self.lr_scheduler  # checks the schedule's values

    def __str__(self):
        ordered = {k: self.dic[k] for k in _DUMP_ORDER if k in self.dic}
        ordered.update({k: v for k, v in self.dic.items() if k not in ordered})
        return yaml.safe_dump(ordered, sort_keys=False, default_flow_style=None)

    def save(self, path):
        """Write the resolved config to `path` atomically (a failed write leaves no temporary: `writing`)."""
        tmp = path + ".tmp"
        with writing(tmp, path):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(str(self))
        os.replace(tmp, path)
