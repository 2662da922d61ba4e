"""The label rules every stage shares: how many classes a model's output means, how a label batch
is shaped, which label values are allowed, and how stored values become class ids (`LabelMap`).

Used by the datasets (label files), the losses (label tensors), the metrics and the static-graph
step (numpy batches), so the rule and its error message live here once. `LabelMap` is the one
conversion of stored label values (0/255 masks, palette indices, RGB colours) into class ids: the
datasets' `label_map` option and tools/convert_labels.py's `--map` both parse and apply it here.
"""
import re

import numpy as np

from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.validate import is_int

HINT_0_255 = ("labels look like 0/255 masks: convert them to 0/1 with the dataset option "
              "`label_map: {0: 0, 255: 1}`, or convert the files with `tools/convert_labels.py --map 0:0 255:1` "
              "(tools/prepare_drive.py does for DRIVE)")
HINT_RANGE = "check num_classes / ignore_index and the label files"


def num_classes_of(channels):
    """Classes a model with `channels` output channels predicts: a 1-channel (sigmoid) model is binary,
    so it counts as 2 classes."""
    return max(int(channels), 2)


def is_sigmoid(logits):
    """True when N x C x H x W `logits` come from a 1-channel (sigmoid, binary) model."""
    return logits.shape[1] == 1


def binary_ok(model_classes, data_classes):
    """True when a model with `model_classes` outputs fits a dataset with `data_classes` classes
    (equal, or a 1-channel sigmoid model on a 2-class dataset)."""
    return model_classes == data_classes or (model_classes == 1 and num_classes_of(1) == data_classes)


def squeeze_label(label):
    """An N x 1 x H x W label (numpy array or paddle Tensor) as N x H x W; other shapes unchanged."""
    if label.ndim == 4 and label.shape[1] == 1:
        return label[:, 0]
    return label


def bad_label_values(values, num_classes, ignore_index):
    """Sorted distinct values of `values` that are neither a class id in [0, num_classes) nor ignore_index."""
    values = np.asarray(values)
    bad = values[((values < 0) | (values >= num_classes)) & (values != ignore_index)]
    return [int(v) for v in np.unique(bad)]


def check_label_values(values, num_classes, ignore_index, where):
    """Raise a UserError naming `where` (a label file, a loss, a metric) when `values` (label values,
    any shape) hold something other than class ids in [0, num_classes) and `ignore_index`."""
    bad = bad_label_values(values, num_classes, ignore_index)
    if bad:
        hint = HINT_0_255 if 255 in bad else HINT_RANGE
        raise UserError("{}: label values {} are outside [0, {}) and not ignore_index {}; {}".format(
            where, bad[:10], num_classes, ignore_index, hint))


LABEL_MAP_FORM = ("a mapping of stored label values (gray value or palette index, e.g. {0: 0, 255: 1}) or "
                  "of RGB colours ('R,G,B' keys, e.g. {'255,0,0': 1, '0,0,0': 0}) to class ids")
_COLOUR_KEY = re.compile(r"^\s*(\d+)\s*[, ]\s*(\d+)\s*[, ]\s*(\d+)\s*$")


class LabelMap:
    """An explicit conversion of stored label values into class ids; nothing unlisted is guessed.

    Keys are either all stored values (the gray value of a label file, or the palette index of a palette
    PNG), or all RGB colours ('R,G,B' strings or 3-item lists), for colour-coded masks. `apply` refuses
    a label holding a value (colour) that is not a key.

    Args:
        mapping (dict): {key: class id}; keys int (or their decimal strings) or colours; ids ints >= 0.
        where (str): How the user named the mapping, for messages (`FolderDataset: label_map`, `--map`).
        error (type): Exception raised for a bad mapping (ValueError in constructors, UserError in tools).
    """

    def __init__(self, mapping, where="label_map", error=ValueError):
        self.where = where
        if not isinstance(mapping, dict) or not mapping:
            raise error("{} must be {}, got {!r}".format(where, LABEL_MAP_FORM, mapping))
        keys = [_parse_key(key, where, error) for key in mapping]
        self.colour = isinstance(keys[0], tuple)
        if any(isinstance(key, tuple) != self.colour for key in keys):
            raise error("{} mixes stored values and RGB colours as keys ({!r}); use one kind".format(where, mapping))
        codes = [_pack(key) if self.colour else key for key in keys]
        if len(set(codes)) != len(codes):
            raise error("{} names the same key twice ({!r})".format(where, mapping))
        for key, target in mapping.items():
            if not is_int(target) or target < 0:
                raise error("{} maps {!r} to {!r}; class ids must be integers >= 0".format(where, key, target))
        order = np.argsort(codes)
        self.codes = np.asarray(codes, np.int64)[order]
        self.targets = np.asarray(list(mapping.values()), np.int64)[order]

    def __repr__(self):
        return "{" + ", ".join("{}: {}".format(self.describe(c), t) for c, t in zip(self.codes, self.targets)) + "}"

    def describe(self, code):
        """A key as the user writes it: `255`, or `255,0,0` for a colour."""
        code = int(code)
        return "{},{},{}".format(code >> 16, code >> 8 & 255, code & 255) if self.colour else str(code)

    def join(self, keys):
        """Keys as `describe` writes them, joined for a message (colours, which hold commas, by '; ')."""
        return ("; " if self.colour else ", ").join(keys)

    def check_targets(self, num_classes, ignore_index):
        """Raise ValueError naming the mapping when a class id is neither in [0, num_classes) nor ignore_index."""
        bad = bad_label_values(self.targets, num_classes, ignore_index)
        if bad:
            raise ValueError("{} maps to {} but class ids must be in [0, {}) or ignore_index {}; fix the mapping "
                             "or num_classes".format(self.where, bad, num_classes, ignore_index))

    def _lookup(self, raw):
        """(positions of the keys, True where a pixel's value is a key) for an (H, W) or (H, W, 3) label."""
        codes = _pack(raw) if self.colour else np.asarray(raw).astype(np.int64)
        pos = np.minimum(np.searchsorted(self.codes, codes), len(self.codes) - 1)
        return pos, self.codes[pos] == codes, codes

    def unmapped(self, raw):
        """Sorted keys (as `describe` writes them) present in `raw` that the mapping does not cover."""
        _, known, codes = self._lookup(raw)
        return [self.describe(c) for c in np.unique(codes[~known])]

    def apply(self, raw, where):
        """Class ids (H, W) int64 of `raw`: stored values (H, W), or RGB colours (H, W, 3) for a colour map.

        Raises:
            UserError: `raw` holds values the mapping does not cover; names `where` (the file) and them.
        """
        if self.colour != (np.ndim(raw) == 3):
            raise UserError("{}: expected {} for {}".format(
                where, "an (H, W, 3) colour image" if self.colour else "(H, W) stored values", self.where))
        pos, known, codes = self._lookup(raw)
        if not known.all():
            missing = [self.describe(c) for c in np.unique(codes[~known])]
            raise UserError("{}: values [{}] are not covered by {} {!r}; add them to it (map them to a class, "
                            "or to ignore_index to leave them out)".format(where, self.join(missing[:10]), self.where,
                                                                           self))
        return self.targets[pos]


def _parse_key(key, where, error):
    """An int key (a stored value) or an (r, g, b) tuple (a colour); ints may come as decimal strings."""
    if isinstance(key, str):
        match = _COLOUR_KEY.match(key)
        if match:
            key = tuple(int(v) for v in match.groups())
        elif key.strip().isdigit():
            key = int(key)
    if isinstance(key, (list, tuple)) and len(key) == 3 and all(is_int(v) and 0 <= v <= 255 for v in key):
        return tuple(int(v) for v in key)
    if is_int(key) and key >= 0:
        return int(key)
    raise error("{}: key {!r} is neither a stored value (an integer >= 0) nor an RGB colour ('R,G,B', each "
                "0-255); it must be {}".format(where, key, LABEL_MAP_FORM))


def _pack(rgb):
    """RGB colour(s) (..., 3) as one int64 code each: r << 16 | g << 8 | b."""
    rgb = np.asarray(rgb).astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
