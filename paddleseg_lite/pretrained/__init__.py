"""Shipped models: trained weights that come inside the package, addressed by name (`--model NAME` of
tools/predict.py, tools/val.py and tools/export.py; `paddleseg_lite.init_model(NAME)`).

Each model is a folder `pretrained/<name>/` of three files, exactly what a training run leaves:
`config.yml` (the recorded config of the run that trained it, dataset paths made relative: `data/DRIVE`),
`model.pdparams` (its weights) and `model.pdstates` (the decision threshold with a digest of the weights,
as `tools/val.py --threshold auto` stores it: `core.threshold`). So a shipped model is used like any
checkpoint: the stored threshold and the config's FOV default apply as they do for a model of one's own.
dev/ship_model.py puts a run's files here (one command, documented in docs/python_api.md).

Imports nothing of the package but utils: a name is only a folder here; the tools and the Python API
build the config and load the weights themselves.
"""
import dataclasses
import os

from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.validate import did_you_mean

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = ("config.yml", "model.pdparams", "model.pdstates")


@dataclasses.dataclass(frozen=True)
class ShippedModel:
    """The files of one shipped model."""
    name: str
    config: str
    model_path: str


def names():
    """The names of the shipped models (folders holding all of FILES), sorted."""
    return sorted(n for n in os.listdir(HERE)
                  if all(os.path.isfile(os.path.join(HERE, n, f)) for f in FILES))


def shipped_model(name, where="--model"):
    """The ShippedModel called `name`.

    Raises:
        UserError: no shipped model has that name (naming `where`, the flag or argument that gave it, the
            names there are, and the closest one).
    """
    if name not in names():
        raise UserError("{} {}: no shipped model of that name; shipped: {}.{}".format(
            where, name, ", ".join(names()) or "none", did_you_mean(name, names())))
    folder = os.path.join(HERE, name)
    return ShippedModel(name, os.path.join(folder, "config.yml"), os.path.join(folder, "model.pdparams"))
