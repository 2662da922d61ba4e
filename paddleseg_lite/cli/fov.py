"""The `--fov auto|none|DIR` flag of tools/val.py and tools/predict.py: which field of view a run uses.

The flag wins; without it, a fundus config (`datasets.fov.default_fov`: a vessel dataset, or a dataset
with `fov: auto`) uses `auto` and any other config none, so the default is what a user of that config
expects. deploy/python/infer.py reads the same default from deploy.yaml (`fov: auto`, written at export).
"""
import inspect

from paddleseg_lite.cvlibs import manager
from paddleseg_lite.datasets.fov import AUTO, NONE, FovSource, default_fov, parse_fov_flag
from paddleseg_lite.utils.errors import UserError

FOV_HELP = ("field of view: auto (estimated from each image), none, or a folder of masks named like the images "
            "(<stem>.* or <stem>_mask.*); outside it predictions are background. Default: auto for fundus "
            "configs (DRIVE, STARE, CHASEDB1, HRF, SyntheticVessels, or a dataset with fov: auto), else none")


def add_fov_arg(parser):
    parser.add_argument("--fov", default=None, help=FOV_HELP)


def predict_fov(cfg, flag):
    """The FovSource of tools/predict.py: `--fov` if given, else the config's default."""
    source = parse_fov_flag(flag) if flag is not None else default_fov(cfg.dic)
    return FovSource(source)


def val_fov(cfg, flag):
    """Set the val dataset's `fov` from `--fov` (or the config's default) and return whether predictions
    are evaluated as background outside the samples' FOV (whenever the source is not none).

    A given flag replaces the dataset's `fov` key (masks listed with the samples still win); without it,
    the config's key stays, and a fundus dataset without one gets `auto`. A dataset type without a `fov`
    argument (SyntheticVessels: its FOV is known) takes auto and none, but not a mask folder.
    """
    dataset = cfg.dic.get("val_dataset")
    if flag is not None:
        source = parse_fov_flag(flag)
    elif isinstance(dataset, dict) and "fov" in dataset:
        return dataset["fov"] not in (None, NONE)
    else:
        source = default_fov(cfg.dic)
    if not isinstance(dataset, dict) or "type" not in dataset:
        return source is not None
    if _takes_fov(dataset["type"]):
        dataset["fov"] = source
    elif source not in (None, AUTO):
        raise UserError("--fov {}: val_dataset type {} takes no FOV masks (it has its own FOV); use --fov auto "
                        "or none".format(flag, dataset["type"]))
    return source is not None


def _takes_fov(type_name):
    """Whether the dataset type `type_name` has a `fov` argument (False for an unknown type: the builder
    reports that)."""
    if type_name not in manager.DATASETS:
        return False
    return "fov" in inspect.signature(manager.DATASETS[type_name]).parameters
