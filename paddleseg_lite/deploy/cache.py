"""A bounded on-disk cache of exported models, one entry per (weights, architecture, export settings).

Exporting (tracing + saving the program) costs ~1-2 s for UNet-64, several times the predictor's own
creation; `tools/val.py` and `tools/predict.py` run the same checkpoint again and again. An entry is
the export directory of `export.export_model`, named by a checksum of everything that shapes the
exported files: every weight's name, shape, dtype and bytes, the model's class and its layers'
settings, the caller's model config, the transforms, the input spec, output_op and the Paddle version.
An ONNX conversion of an entry (for ONNX Runtime, paddle2onnx costs ~4 s for UNet-64) is cached as a
sibling entry `<key>-onnx` holding model.onnx and its deploy.yaml.

Safe under concurrency and crashes: an entry is written into a private temporary directory and
renamed into place in one step (a rename onto an existing entry fails, and the loser uses the
winner's); its manifest, written last, holds the checksum of each file, so a truncated or edited
entry is detected on use and rebuilt. At most MAX_ENTRIES entries are kept (least recently used go).

Where: `$PADDLESEG_LITE_CACHE_DIR`, else `$XDG_CACHE_HOME/paddleseg_lite/exports`, else
`~/.cache/paddleseg_lite/exports`.
"""
import hashlib
import json
import os
import shutil
import tempfile
import time

import numpy as np
import paddle

from paddleseg_lite.deploy.export import STAGES, check_input_shape, export_model
from paddleseg_lite.deploy.onnx_export import ONNX_STAGES, convert_to_onnx
from paddleseg_lite.utils.progress import Stages
from paddleseg_lite.utils.validate import check_choice

CACHE_ENV = "PADDLESEG_LITE_CACHE_DIR"
MANIFEST = "manifest.json"
MAX_ENTRIES = 16  # a checkpoint run on ONNX Runtime takes two (the Paddle export and its conversion)
STALE_TEMP_S = 3600  # a temporary directory this old belongs to a crashed writer
FORMATS = ("paddle", "onnx")
FORMAT = 2           # bump when the export format changes, so old entries are not reused
_SETTING_TYPES = (bool, int, float, str, type(None))


def cache_root():
    """The cache directory (see the module docstring); not created here."""
    if os.environ.get(CACHE_ENV):
        return os.environ[CACHE_ENV]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "paddleseg_lite", "exports")


def _layer_settings(model):
    """The public scalar attributes of every sublayer (e.g. align_corners), which the weights do not show."""
    return [(name, type(layer).__name__,
             sorted((k, repr(v)) for k, v in vars(layer).items()
                    if not k.startswith("_") and k != "training" and isinstance(v, _SETTING_TYPES)))
            for name, layer in model.named_sublayers(include_self=True)]


def model_key(model, model_config=None, transforms=None, input_shape=None, output_op="none"):
    """The hex checksum naming `model`'s cache entry (see the module docstring)."""
    digest = hashlib.sha256()
    header = {"format": FORMAT, "paddle": paddle.__version__, "class": type(model).__module__ + "." +
              type(model).__qualname__, "layers": _layer_settings(model), "config": model_config,
              "transforms": transforms, "input_shape": check_input_shape(input_shape), "output_op": output_op}
    digest.update(json.dumps(header, sort_keys=True, default=repr).encode())
    for name, value in model.state_dict().items():
        array = np.ascontiguousarray(value.numpy())
        digest.update("{}|{}|{}|".format(name, array.dtype, array.shape).encode())
        digest.update(array.data)
    return digest.hexdigest()


def _file_sum(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_complete(entry, key):
    """True when `entry` holds a manifest for `key` and every file matches its recorded checksum."""
    try:
        with open(os.path.join(entry, MANIFEST), encoding="utf-8") as f:
            manifest = json.load(f)
        return manifest.get("key") == key and all(
            _file_sum(os.path.join(entry, name)) == digest for name, digest in manifest["files"].items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _remove(path):
    """Move `path` out of the way atomically, then delete it (a reader never sees half an entry)."""
    trash = tempfile.mkdtemp(prefix=".trash-", dir=os.path.dirname(path))
    try:
        os.rename(path, os.path.join(trash, "entry"))
    except OSError:  # already gone (another process removed it)
        pass
    shutil.rmtree(trash, ignore_errors=True)


def _write_entry(root, key, write):
    """Run `write(tmp)` into a private temporary directory, then rename it to `root/key`; returns the entry."""
    entry = os.path.join(root, key)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=root)
    try:
        write(tmp)
        files = {name: _file_sum(os.path.join(tmp, name)) for name in sorted(os.listdir(tmp))
                 if os.path.isfile(os.path.join(tmp, name))}
        with open(os.path.join(tmp, MANIFEST), "w", encoding="utf-8") as f:
            json.dump({"key": key, "files": files}, f)
            f.flush()
            os.fsync(f.fileno())
        if os.path.isdir(entry) and not _is_complete(entry, key):
            _remove(entry)
        try:
            os.rename(tmp, entry)
        except OSError:  # another process renamed its (identical) entry first: use that one
            if not _is_complete(entry, key):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return entry


def _prune(root, keep):
    """Delete all but the MAX_ENTRIES most recently used entries (never `keep`), and stale temporaries."""
    now, entries = time.time(), []
    for name in os.listdir(root):
        path = os.path.join(root, name)
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            continue
        if name.startswith((".tmp-", ".trash-")):
            if now - mtime > STALE_TEMP_S:
                shutil.rmtree(path, ignore_errors=True)
        elif path != keep and os.path.isfile(os.path.join(path, MANIFEST)):
            entries.append((mtime, path))
    for _, path in sorted(entries, reverse=True)[MAX_ENTRIES - 1:]:
        _remove(path)


def _cached(root, key, write):
    """The complete entry `root/key`, written by `write(tmp)` first when missing or corrupt;
    returns (entry, whether it was written now)."""
    entry = os.path.join(root, key)
    written = not _is_complete(entry, key)
    if written:
        entry = _write_entry(root, key, write)
    os.utime(entry)  # most recently used
    _prune(root, keep=entry)
    return entry, written


def cached_export(model, model_config=None, transforms=None, input_shape=None, output_op="none", root=None,
                  fmt="paddle"):
    """The export directory of `model` from the cache, exporting it first on a miss or a corrupt entry.

    Args:
        model (paddle.nn.Layer): A built model with its weights loaded.
        model_config (dict, optional): The config's `model` section (part of the key).
        transforms, input_shape, output_op: As for `export.export_model`.
        root (str, optional): The cache directory (default: `cache_root()`).
        fmt (str): 'paddle' (model.pdmodel for Paddle Inference) or 'onnx' (model.onnx for ONNX Runtime,
            a sibling entry `<key>-onnx` converted from the Paddle entry, which is cached too).

    Returns:
        tuple: (entry directory, whether it was exported (or converted) now).
    """
    check_choice("cached_export", "fmt", fmt, FORMATS)
    root = root or cache_root()
    os.makedirs(root, exist_ok=True)
    key = model_key(model, model_config, transforms, input_shape, output_op)
    stages = Stages("engine export", STAGES if fmt == "paddle" else ONNX_STAGES)

    def write_paddle(tmp):
        export_model(model, tmp, transforms=transforms, input_shape=input_shape, output_op=output_op, stages=stages)

    if fmt == "paddle":
        found = _cached(root, key, write_paddle)
    else:
        found = _cached(root, key + "-onnx", lambda tmp: convert_to_onnx(_cached(root, key, write_paddle)[0], tmp,
                                                                          stages))
    stages.finish()  # logs only when something was exported now
    return found
