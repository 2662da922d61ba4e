"""The config is the run: every knob of a training run is a top-level config key.

`tools/train.py` flags of the same names only override these keys, so `save_dir/config.yml` (written
with every knob resolved, the random seed included) reproduces a run on its own. `check_keys` refuses
top-level keys that are neither PaddleSeg's nor a run knob, with a did-you-mean.
"""
import dataclasses
import random
from typing import Optional, Union

from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.validate import check_bool, check_choice, check_int, check_str, did_you_mean

# PaddleSeg's top-level keys; the last four are accepted for compatibility and have no effect here.
PADDLESEG_KEYS = ("batch_size", "iters", "train_dataset", "val_dataset", "model", "loss", "optimizer",
                  "lr_scheduler", "test_config", "export", "to_static_training",
                  "print_mem_info", "log_ranks", "uniform_output_enabled", "pdx_model_name")


def _knob(default, help_text, choices=None):
    return dataclasses.field(default=default, metadata={"help": help_text, "choices": choices})


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """The knobs of a training run: each a top-level config key and a tools/train.py flag (the fields'
    `help`). Values are checked on construction (a UserError names the key)."""
    iters: int = dataclasses.field(metadata={"help": "training iterations"})
    batch_size: int = dataclasses.field(metadata={"help": "samples per iteration on each process"})
    save_interval: int = _knob(1000, "evaluate (with do_eval) and write iter_N/ every N iterations and at the end")
    log_iters: int = _knob(10, "log a [TRAIN] line every N iterations")
    seed: Optional[int] = _knob(None, "seeds paddle, numpy, random and the data order; drawn at random when unset")
    save_best_metric: str = _knob("mIoU", "the metric that picks best_model/ (mIoU, dice_fg, mcc_fg, cldice_fg, ap_fg, ...)")
    keep_checkpoint_max: int = _knob(5, "keep the newest N iter_* directories (<= 0: all)")
    early_stop_intervals: Optional[int] = _knob(None, "stop after N evaluations below the best")
    precision: str = _knob("auto", "auto: bf16 where the static CPU step runs on a CPU with native bf16, else fp32; "
                                   "bf16: the static CPU step's bf16 convolutions; fp16: AMP (CUDA GPU only)",
                           ("auto", "fp32", "bf16", "fp16"))
    amp_level: str = _knob("O1", "AMP level for fp16", ("O1", "O2"))
    to_static_training: Union[bool, str] = _knob(
        "auto", "auto: the training step as a static graph on a single-process CPU run (faster), dygraph "
                "otherwise; True: require the static step; False: dygraph", (True, False, "auto"))
    num_workers: int = _knob(0, "data-loading worker processes (0: load in the training process)")
    do_eval: bool = _knob(False, "evaluate val_dataset at each save point")
    use_vdl: bool = _knob(False, "log to VisualDL in save_dir")
    use_ema: bool = _knob(False, "keep an EMA of the weights (PaddleSeg's rule), evaluate it after the model and "
                                 "save it: iter_N/ema_model.pdparams, ema_best_model/")
    repeats: int = _knob(1, "repeat the train samples N times per epoch (PaddleSeg's --repeats)")

    def __post_init__(self):
        for field in dataclasses.fields(self):
            _check(field.name, getattr(self, field.name))

    def with_seed(self):
        """These settings with a concrete seed (drawn at random when unset)."""
        if self.seed is not None:
            return self
        return dataclasses.replace(self, seed=random.SystemRandom().randrange(2 ** 31))

    def as_dict(self):
        return dataclasses.asdict(self)


RUN_KEYS = tuple(f.name for f in dataclasses.fields(TrainSettings) if f.name not in ("iters", "batch_size"))
KNOWN_KEYS = PADDLESEG_KEYS + tuple(k for k in RUN_KEYS if k not in PADDLESEG_KEYS)

_INT_MIN = {"iters": 1, "batch_size": 1, "save_interval": 1, "log_iters": 1, "seed": 0,
            "keep_checkpoint_max": None, "early_stop_intervals": 1, "num_workers": 0, "repeats": 1}
_CHOICES = {f.name: f.metadata["choices"] for f in dataclasses.fields(TrainSettings) if f.metadata.get("choices")}
_OPTIONAL = ("seed", "early_stop_intervals")


def _check(key, value):
    """Raise a UserError naming `key` when `value` is not a valid value for it."""
    if value is None and key in _OPTIONAL:
        return
    if key in _INT_MIN:
        check_int(None, key, value, _INT_MIN[key], error=UserError)
    elif key in _CHOICES:
        if isinstance(value, int) and not isinstance(value, bool):  # 1 == True, but not a switch value
            value = repr(value)
        check_choice(None, key, value, _CHOICES[key], error=UserError)
    elif key in ("do_eval", "use_vdl", "use_ema"):
        check_bool(None, key, value, error=UserError)
    elif key == "save_best_metric":
        check_str(None, key, value, "a metric name such as mIoU or dice_fg", error=UserError)


def check_keys(dic, path):
    """Raise a UserError for a top-level key that is neither PaddleSeg's nor a run knob."""
    for key in dic:
        if key not in KNOWN_KEYS:
            raise UserError("{}: unknown top-level key '{}'.{} Valid keys: {}".format(
                path, key, did_you_mean(key, KNOWN_KEYS), ", ".join(KNOWN_KEYS)))


def train_settings(dic):
    """TrainSettings from a config dict (defaults for the missing knobs)."""
    return TrainSettings(**{k: dic[k] for k in ("iters", "batch_size") + RUN_KEYS if dic.get(k) is not None})
