"""Loading `.pdparams` weights into a model.

`load_pretrained_model` (lenient, PaddleSeg semantics: skip and warn) backs the
models' `pretrained=` argument; `load_entire_model` (strict: a missing or
mis-shaped parameter is a `UserError`) backs `--model_path` in tools/val.py and
tools/predict.py; `check_complete` is that rule, also used (stricter: no extra
keys either) when resuming. A `.pdparams` file is a pickle of
`{structured_name: ndarray, "StructuredToParameterName@@": {...}}`; both accept
a local file, a directory holding `model.pdparams`, or a URL (downloaded once
to `$PADDLESEG_LITE_CACHE`, default `~/.cache/paddleseg_lite`).
"""
import os
import tarfile
import urllib.parse
import urllib.request
import warnings
import zipfile

import numpy as np
import paddle

from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError

CACHE_ENV = 'PADDLESEG_LITE_CACHE'
NAME_TABLE_KEY = 'StructuredToParameterName@@'
_ARCHIVES = ('.tar', '.tar.gz', '.tgz', '.zip')


def cache_dir():
    """The download cache: `$PADDLESEG_LITE_CACHE` or `~/.cache/paddleseg_lite`."""
    return os.environ.get(CACHE_ENV) or os.path.expanduser(os.path.join('~', '.cache', 'paddleseg_lite'))


def _is_url(path):
    return urllib.parse.urlparse(str(path)).scheme in ('http', 'https', 'ftp', 'file')


def _choose_pdparams(archive, names):
    """Pick `model.pdparams`, else the only .pdparams member of an archive."""
    preferred = [n for n in names if os.path.basename(n) == 'model.pdparams']
    if not preferred and len(names) != 1:
        raise UserError("{} holds {} .pdparams files and none is model.pdparams; extract it yourself and "
                        "give the file's path".format(archive, len(names)))
    return (preferred or names)[0]


def _extract_pdparams(archive, dest_dir):
    """Extract the archive's weights file to `dest_dir/model.pdparams`; return that path."""
    if archive.endswith('.zip'):
        with zipfile.ZipFile(archive) as zf:
            data = zf.read(_choose_pdparams(archive, [n for n in zf.namelist() if n.endswith('.pdparams')]))
    else:
        with tarfile.open(archive) as tf:
            members = {m.name: m for m in tf.getmembers() if m.isfile() and m.name.endswith('.pdparams')}
            data = tf.extractfile(members[_choose_pdparams(archive, list(members))]).read()
    target = os.path.join(dest_dir, 'model.pdparams')
    with open(target, 'wb') as f:
        f.write(data)
    return target


def download_weights(url):
    """Download `url` into the cache once (extracting .pdparams from archives); return the local path."""
    name = os.path.basename(urllib.parse.urlparse(url).path) or 'weights.pdparams'
    dest_dir = os.path.join(cache_dir(), name.split('.')[0])
    os.makedirs(dest_dir, exist_ok=True)
    local = os.path.join(dest_dir, name)
    if not os.path.exists(local):
        logger.info("Downloading {} to {}".format(url, local))
        try:
            urllib.request.urlretrieve(url, local + '.part')
        except (OSError, ValueError) as err:
            raise UserError("Could not download {} ({}); download it yourself and give the local "
                            "path instead".format(url, err)) from err
        os.replace(local + '.part', local)
    if not local.endswith(_ARCHIVES):
        return local
    try:
        return _extract_pdparams(local, dest_dir)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
        raise UserError("{} (from {}) is not a readable archive ({}); delete it and retry".format(
            local, url, err)) from err


def resolve_weights_path(path_or_url):
    """Map a file, a checkpoint directory or a URL to a local `.pdparams` path.

    Raises:
        UserError: if the path does not exist.
    """
    if _is_url(path_or_url):
        return download_weights(str(path_or_url))
    path = os.path.expanduser(str(path_or_url))
    if os.path.isdir(path):
        path = os.path.join(path, 'model.pdparams')
    if not os.path.isfile(path):
        raise UserError("Model weights not found: {}; check model.pretrained / --model_path".format(path))
    return path


def read_state_dict(path):
    """Read a `.pdparams` file into `{name: ndarray}` (the name table dropped).

    Raises:
        UserError: naming the file when it is not a valid weights file.
    """
    try:
        state = paddle.load(path, return_numpy=True)
    except Exception as err:  # paddle raises ValueError, pickle/EOF/... errors for corrupt files
        raise UserError("{} is not a valid .pdparams weights file ({}: {})".format(
            path, type(err).__name__, str(err)[:200])) from err
    if not isinstance(state, dict):
        raise UserError("{} is not a valid .pdparams weights file (holds a {}, not a dict of "
                        "parameters)".format(path, type(state).__name__))
    arrays = {k: np.asarray(v) for k, v in state.items() if k != NAME_TABLE_KEY and hasattr(v, 'shape')}
    if not arrays:
        raise UserError("{} is not a valid .pdparams weights file (it holds no parameter arrays)".format(path))
    return arrays


def match_state_dict(model, state):
    """Compare a checkpoint with `model.state_dict()`.

    Aliased parameters (UNet's `conv.*` = `cls.*`) count as present when any of
    their names is in the checkpoint.

    Returns:
        dict: `loadable` {model key: array}, `missing` [key], `mismatched`
        [(key, checkpoint shape, model shape)], `unexpected` [checkpoint key].
    """
    model_state = model.state_dict()
    aliases = {}
    for key, tensor in model_state.items():
        aliases.setdefault(id(tensor), []).append(key)
    report = {'loadable': {}, 'missing': [], 'mismatched': [], 'unexpected': []}
    for key, tensor in model_state.items():
        source = next((k for k in aliases[id(tensor)] if k in state), None)
        if source is None:
            report['missing'].append(key)
        elif list(state[source].shape) != list(tensor.shape):
            report['mismatched'].append((key, list(state[source].shape), list(tensor.shape)))
        else:
            report['loadable'][key] = state[source]
    report['unexpected'] = [k for k in state if k not in model_state and k != NAME_TABLE_KEY]
    return report


def _key_list(keys, limit=20):
    shown = ", ".join(keys[:limit])
    return shown + (" ... and {} more".format(len(keys) - limit) if len(keys) > limit else "")


def _apply(model, report, path):
    with warnings.catch_warnings():  # Paddle warns per skipped key; our report already lists them
        warnings.filterwarnings('ignore', message='Skip loading')
        model.set_state_dict(report['loadable'])
    logger.info("There are {}/{} variables loaded into {}.".format(
        len(report['loadable']), len(model.state_dict()), type(model).__name__))
    if report['unexpected']:
        logger.warning("{} keys of {} are not in {} and were ignored: {}".format(
            len(report['unexpected']), path, type(model).__name__, _key_list(report['unexpected'])))


def load_pretrained_model(model, path_or_url):
    """Load weights leniently: missing or mis-shaped parameters are skipped with a warning.

    Args:
        model (paddle.nn.Layer): The model to fill.
        path_or_url (str): A `.pdparams` file, a directory with `model.pdparams`, or a URL.

    Returns:
        dict: The `match_state_dict` report.

    Raises:
        UserError: if the file does not exist, cannot be downloaded or is not a weights file.
    """
    path = resolve_weights_path(path_or_url)
    report = match_state_dict(model, read_state_dict(path))
    if report['missing']:
        logger.warning("{} parameters of {} are not in {} and keep their initial values: {}".format(
            len(report['missing']), type(model).__name__, path, _key_list(report['missing'])))
    for key, ckpt_shape, model_shape in report['mismatched']:
        logger.warning("[SKIP] Shape of pretrained params {} doesn't match.(Pretrained: {}, Actual: {})"
                       .format(key, ckpt_shape, model_shape))
    _apply(model, report, path)
    return report


def check_complete(report, path, model, allow_unexpected=True):
    """Raise a UserError when the checkpoint `path` cannot fill every parameter of `model` exactly.

    Args:
        report (dict): `match_state_dict(model, state)`.
        path (str): The checkpoint file (named in the message).
        allow_unexpected (bool): Whether checkpoint keys the model lacks are only ignored (--model_path) or
            an error too (resuming: they are state that would be lost).
    """
    name = type(model).__name__
    if report['mismatched']:
        key, ckpt_shape, model_shape = report['mismatched'][0]
        raise UserError("{}: parameter {} has shape {} in the checkpoint but {} in {} ({} mismatched); "
                        "model.num_classes / base_channels / in_channels in the config differ from the "
                        "checkpoint".format(path, key, ckpt_shape, model_shape, name, len(report['mismatched'])))
    if report['missing']:
        raise UserError("{}: {} of {} parameters of {} are missing (first: {}); the checkpoint was made by "
                        "another model type or config: use the config it was trained with".format(
                            path, len(report['missing']), len(model.state_dict()), name, report['missing'][0]))
    if report['unexpected'] and not allow_unexpected:
        raise UserError("{}: holds {} parameters that {} does not have (first: {}); the checkpoint was made by "
                        "another model type or config: use the config it was trained with".format(
                            path, len(report['unexpected']), name, report['unexpected'][0]))


def load_entire_model(model, path, strict=False):
    """Load every parameter of `model` from a checkpoint, for evaluation/prediction.

    Args:
        model (paddle.nn.Layer): The model to fill.
        path (str|None): A `.pdparams` file, a directory with `model.pdparams`, or a URL.
            None only warns (the model keeps its random initialisation).
        strict (bool): Checkpoint keys the model lacks are an error too (an ensemble member made by another
            architecture), not only ignored with a warning.

    Returns:
        dict|None: The `match_state_dict` report (None when `path` is None).

    Raises:
        UserError: if the file is missing or invalid, or a parameter is missing or
        has a different shape (naming the key and both shapes).
    """
    if not path:
        logger.warning("No model weights given: {} keeps its random initialisation.".format(type(model).__name__))
        return None
    path = resolve_weights_path(path)
    report = match_state_dict(model, read_state_dict(path))
    check_complete(report, path, model, allow_unexpected=not strict)
    _apply(model, report, path)
    return report
