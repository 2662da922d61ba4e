"""Load a YAML config file: `_base_` inheritance, deep merge, CLI overrides (`--opts key.subkey=value`).

`load_yaml` resolves `_base_` files (relative to the including file, else a built-in config by name:
`_base_: drive_cpu/unet_drive_cpu`; recursively) and merges them:
dicts merge key by key, everything else (lists included) is replaced; a dict holding `_delete_: true`
or PaddleSeg's `_inherited_: false` replaces the base dict outright (at the top level of a file: no
base is inherited). With several bases, earlier bases win over later ones (PaddleSeg's rule). A key
given twice in one mapping and a `_base_` cycle are errors naming the file.
"""
import ast
import codecs
import collections.abc
import copy
import os

import yaml

from paddleseg_lite.cvlibs.builtin_configs import find_builtin
from paddleseg_lite.utils.errors import UserError

_REPLACE_KEYS = ("_delete_", "_inherited_")


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
