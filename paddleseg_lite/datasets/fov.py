"""Where the field of view (FOV) of an image comes from: a mask folder, the image itself, or nowhere.

Flow: a dataset's `fov` key (`dataset.py`, `vessels.py`) and the `--fov` flag of tools/val.py,
tools/predict.py and deploy/python/infer.py both name a source, checked here once:

    null / none   no FOV beyond the mask files a dataset lists (predictions are not masked)
    auto          estimated from each image (`utils.fov.estimate_fov`)
    <directory>   a folder of masks matched to images by file stem: `<stem>.*` or DRIVE's `<stem>_mask.*`

In a dataset, a mask listed with the sample (the list file's third column, DRIVE's mask/ folder) wins;
the source fills in the images that have none. Outside the FOV, labels become ignore_index and
predictions, probabilities and overlays are background. Fundus datasets (`FUNDUS_DATASETS`, or a
dataset with `fov: auto`) make `auto` the default of val, predict and export (deploy.yaml `fov: auto`).
"""
import glob
import os

from paddleseg_lite.transforms import io
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.fov import estimate_fov

AUTO = "auto"
NONE = "none"
FUNDUS_DATASETS = ("DRIVE", "STARE", "CHASEDB1", "HRF", "SyntheticVessels")
MASK_SUFFIXES = ("", "_mask")


def check_fov_value(owner, value):
    """A dataset's `fov` value (None, 'auto' or an existing directory; 'none' as None, for a dataset whose
    unset `fov` means auto), else ValueError naming `fov`."""
    if value == NONE:
        return None
    if value is None or value == AUTO or (isinstance(value, str) and os.path.isdir(value)):
        return value
    raise ValueError("{}: fov must be 'auto' (estimate each image's field of view), null or none (only the "
                     "masks listed with the samples) or an existing folder of masks, got {!r}".format(owner, value))


def parse_fov_flag(value, flag="--fov"):
    """The `--fov` flag's value as a source: None for 'none', 'auto', or a directory; else UserError."""
    if value == NONE:
        return None
    if value == AUTO or os.path.isdir(value):
        return value
    raise UserError("{} {}: expected auto, none or a folder of FOV masks (that folder does not exist)".format(
        flag, value))


def default_fov(dic):
    """'auto' when the config's val (else train) dataset is a fundus dataset or has `fov: auto`, else None."""
    for key in ("val_dataset", "train_dataset"):
        cfg = dic.get(key)
        if isinstance(cfg, dict) and "type" in cfg:
            return AUTO if cfg["type"] in FUNDUS_DATASETS or cfg.get("fov") == AUTO else None
    return None


class FovSource:
    """The FOV of images from one source (see the module docstring).

    Args:
        source (str | None): None, 'auto' or a directory of masks.
        where (str): How the user named the source, for messages (`--fov`, `val_dataset.fov`).
    """

    def __init__(self, source, where="--fov"):
        self.source, self.where = source, where

    def __bool__(self):
        return self.source is not None

    def mask_path(self, image_path):
        """The mask file of `image_path` in the mask folder, or None."""
        stem = os.path.splitext(os.path.basename(image_path))[0]
        for suffix in MASK_SUFFIXES:
            found = sorted(glob.glob(os.path.join(glob.escape(self.source), glob.escape(stem + suffix) + ".*")))
            if found:
                return found[0]
        return None

    def check(self, image_paths):
        """Raise a UserError naming the first image that has no mask in the mask folder (before any work)."""
        if self.source in (None, AUTO):
            return
        missing = [p for p in image_paths if self.mask_path(p) is None]
        if missing:
            raise UserError("{} {}: no FOV mask for image '{}' ({} of {} images have none; expected {} in that "
                            "folder)".format(self.where, self.source, missing[0], len(missing), len(image_paths),
                                             " or ".join("<stem>{}.*".format(s) for s in MASK_SUFFIXES)))

    def mask(self, image_path, image=None):
        """(H, W) uint8 0/1 FOV of the image file `image_path` (pixels `image`, HWC, read when None), or None."""
        if self.source is None:
            return None
        if image is None:
            image = io.read_image(image_path)
        if self.source == AUTO:
            return estimate_fov(image)
        path = self.mask_path(image_path)
        if path is None:
            self.check([image_path])
        fov = io.read_fov(path)
        io.check_same_size("fov", path, fov, image_path, image.shape)
        return fov
