"""`Config`: a loaded config (`cvlibs.config_file`) with the CLI overrides applied, its run settings
resolved, and its components built lazily through `cvlibs.builder`; `save` writes the run's config.yml.
"""
import os

import yaml

from paddleseg_lite.cvlibs import builder
from paddleseg_lite.cvlibs.builtin_configs import resolve_config
from paddleseg_lite.cvlibs.config_file import apply_opts, load_yaml
from paddleseg_lite.cvlibs.run_settings import RUN_KEYS, check_keys, train_settings
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.fileio import writing

_DUMP_ORDER = ("batch_size", "iters", "train_dataset", "val_dataset", "optimizer", "lr_scheduler",
               "loss", "model")


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
