"""File-list segmentation dataset: the base every dataset in the package builds on.

Flow: `cvlibs.builder` builds a dataset from the YAML `train_dataset` / `val_dataset` dict; the core
loops index it and get a dict of numpy arrays (see docs/DESIGN.md, "Datasets"). This module reads the
list file, loads and checks the image / label / FOV files of one sample, and runs the transforms
with the train/val/test label rule.

List files hold one sample per line, paths relative to `dataset_root` (absolute paths work too):

    image_rel label_rel [fov_rel]

The optional third column is a field-of-view mask (nonzero = inside); label pixels outside it
become `ignore_index` and the mask is returned as `fov`. In test mode a line may hold the image only.
`fov: auto` (or a folder of masks) gives the images without a listed mask a FOV the same way
(`datasets/fov.py`); a listed mask wins.

Labels hold class ids as stored; `label_map` (e.g. `{0: 0, 255: 1}` for 0/255 masks, or RGB colour keys,
`utils.labels.LabelMap`) converts stored values when they are read, and refuses values it does not cover.
Every dataset type takes it through `_setup`.
"""
import collections
import os

import numpy as np

from paddleseg_lite.datasets.fov import FovSource, check_fov_value
from paddleseg_lite.registry import DATASETS
from paddleseg_lite.transforms import Compose
from paddleseg_lite.transforms import io
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.labels import LabelMap, check_label_values
from paddleseg_lite.utils.validate import check_choice, check_int

MODES = ("train", "val", "test")

# Decoded samples a dataset keeps in memory (bytes): a small dataset such as DRIVE (16 training images of
# ~7 MB decoded) is read from disk once, not once per epoch; a larger one keeps its first samples only.
RAW_CACHE_BYTES = 512 * 2 ** 20

Sample = collections.namedtuple("Sample", ["img", "label", "fov", "label_is_mask"], defaults=(None, None, False))
Sample.__doc__ = """One dataset entry: image path, label path (or None), FOV path (or None).

`label_is_mask` marks labels stored as 0/255 vessel masks (the original DRIVE, STARE, CHASE_DB1 and HRF
archives): see `mask_to_classes`.
"""

# A vessel-mask pixel >= this is a vessel: mmsegmentation's converters (which PaddleSeg's releases of STARE,
# CHASE_DB1 and HRF follow) threshold there, as a few of those masks hold values other than 0 and 255.
MASK_THRESHOLD = 128


def mask_to_classes(mask):
    """A 0/255 vessel mask (HW integers) as class ids: 1 where >= MASK_THRESHOLD, else 0 (int64)."""
    return (mask >= MASK_THRESHOLD).astype(np.int64)


@DATASETS.add_component
class Dataset:
    """A dataset described by list files of `image label [fov]` lines.

    Args:
        mode (str): 'train', 'val' or 'test'.
        dataset_root (str): Directory the list entries are relative to.
        transforms (list|None): Transform objects; wrapped in `Compose` here. None = no transforms.
        num_classes (int): Number of classes; label values must be in [0, num_classes) or ignore_index.
        train_path (str, optional): List file for mode 'train' (as given, or relative to dataset_root).
        val_path (str, optional): List file for mode 'val'.
        test_path (str, optional): List file for mode 'test'; lines may omit the label.
        separator (str): Field separator of the list files. Default ' ' (any whitespace).
        ignore_index (int): Label value excluded from loss and metrics. Default 255.
        img_channels (int): 1 (grayscale) or 3 (RGB). Default 3.
        edge (bool): PaddleSeg's edge labels; not supported, must be False.
        fov (str, optional): FOV of the images the list gives no mask: 'auto' (estimated from the image)
            or a folder of masks matched by file stem; None (default): none.
        label_map (dict, optional): Stored label value (gray value, palette index) -> class id, e.g.
            {0: 0, 255: 1}; or 'R,G,B' colour -> class id. Values it does not cover are an error.
            None (default): labels hold class ids.

    Returns (per item):
        dict: `img` CHW float32, `label` int64, `fov` uint8 (if the sample has a FOV), `trans_info`,
        `img_path`.

    Shape:
        `label` / `fov` are (H, W) in train/test mode (transformed with the image) and (1, H0, W0)
        at the original size in val mode.
    """

    REFUSE_0_255 = False  # see `_check_binary_255`

    def __init__(self, mode, dataset_root, transforms, num_classes, train_path=None, val_path=None,
                 test_path=None, separator=" ", ignore_index=255, img_channels=3, edge=False, fov=None,
                 label_map=None):
        self._setup(mode, transforms, num_classes, ignore_index, img_channels, edge, fov, label_map)
        self.dataset_root = check_root(type(self).__name__, dataset_root)
        list_path = {"train": train_path, "val": val_path, "test": test_path}[mode]
        if list_path is None:
            raise ValueError("{}: mode='{}' needs `{}_path` (a list file of 'image label' lines)".format(
                type(self).__name__, mode, mode))
        list_path = self._resolve_list(list_path)
        self.file_list = read_file_list(list_path, self.dataset_root, separator, mode)
        self._require_samples(list_path)

    def _setup(self, mode, transforms, num_classes, ignore_index, img_channels, edge=False, fov=None,
               label_map=None):
        """Validate and store the arguments shared by every dataset; build the Compose."""
        name = type(self).__name__
        self.mode = check_choice(name, "mode", mode, MODES)
        self.num_classes = check_int(name, "num_classes", num_classes, 1)
        self.ignore_index = check_int(name, "ignore_index", ignore_index)
        self.img_channels = check_choice(name, "img_channels", img_channels, (1, 3))
        if edge:
            raise ValueError("{}: edge=True (edge labels for BCELoss) is not supported; "
                             "remove `edge` from the dataset config".format(name))
        self.transforms = build_compose(transforms, img_channels, name)
        self.fov_source = FovSource(check_fov_value(name, fov), "{}: fov".format(name))
        self.label_map = None
        if label_map is not None:
            self.label_map = LabelMap(label_map, "{}: label_map".format(name))
            self.label_map.check_targets(self.num_classes, self.ignore_index)
        self._warned_binary = False
        self._raw_cache = RawCache(RAW_CACHE_BYTES)

    def _resolve_list(self, path):
        """A list path as given if it exists, else relative to dataset_root."""
        for candidate in (path, os.path.join(self.dataset_root, path)):
            if os.path.isfile(candidate):
                return candidate
        raise UserError("{}: list file '{}' not found (looked as given and under dataset_root '{}'); "
                        "fix `{}_path`".format(type(self).__name__, path, self.dataset_root, self.mode))

    def _require_samples(self, source):
        """Refuse an empty file list, and (before any loading) images a FOV mask folder has no mask for."""
        if not self.file_list:
            raise UserError("{}: no {} samples found in '{}'; add samples or fix the path".format(
                type(self).__name__, self.mode, source))
        self.fov_source.check([sample.img for sample in self.file_list if sample.fov is None])

    def __len__(self):
        return len(self.file_list)

    def __getitem__(self, idx):
        img, label, fov, img_path = self._raw_cache.get(idx, self.load_raw)
        return self._pack(img, label, fov, img_path)

    def load_raw(self, idx):
        """Sample `idx` before transforms (labels checked, ignore_index outside the FOV).

        Returns:
            tuple: img (H, W, C) float32 RGB, label (H, W) int64 or None, fov (H, W) uint8 or None, img_path.
        """
        sample = self.file_list[idx]
        img = io.read_image(sample.img, self.img_channels)
        label = fov = None
        if sample.fov is not None:
            fov = io.read_fov(sample.fov)
            io.check_same_size("fov", sample.fov, fov, sample.img, img.shape)
        else:
            fov = self.fov_source.mask(sample.img, img)
        if sample.label is not None:
            label = self._read_checked_label(sample)
            io.check_same_size("label", sample.label, label, sample.img, img.shape)
            if fov is not None:
                label[fov == 0] = self.ignore_index
        return img, label, fov, sample.img

    def _read_checked_label(self, sample):
        if sample.label_is_mask:
            return mask_to_classes(io.read_label(sample.label))
        if self.label_map is not None:  # its class ids were checked when it was built
            return self.label_map.apply(io.read_label_keys(sample.label, self.label_map),
                                        "label '{}'".format(sample.label))
        raw = io.read_label(sample.label)
        values = label_values(raw)
        check_label_values(values, self.num_classes, self.ignore_index, "label '{}'".format(sample.label))
        self._check_binary_255(sample.label, values)
        return raw.astype(np.int64)

    def _check_binary_255(self, path, values):
        """0/255-only labels pass the value check when ignore_index is 255, but are usually a mistake: warned
        once (PaddleSeg reads them), or refused where `REFUSE_0_255` (FolderDataset)."""
        if self._warned_binary or self.ignore_index != 255 or set(values.tolist()) != {0, 255}:
            return
        text = ("{}: label '{}' holds only 0 and 255 (= ignore_index, so its foreground would be ignored): if 255 "
                "marks the foreground, set `label_map: {{0: 0, 255: 1}}` or convert the files with "
                "tools/convert_labels.py --map 0:0 255:1".format(type(self).__name__, path))
        if self.REFUSE_0_255:
            raise UserError(text + "; if 255 does mark pixels to ignore, say so: `label_map: {0: 0, 255: 255}`")
        self._warned_binary = True
        logger.warning(text)

    def _pack(self, img, label, fov, img_path):
        """Run the transforms with PaddleSeg's label rule (val: label untouched, shape (1, H, W))."""
        data = {"img": img, "trans_info": [], "gt_fields": []}
        if self.mode == "val":
            data = self.transforms(data)
            for key, value in (("label", label), ("fov", fov)):
                if value is not None:
                    data[key] = value[np.newaxis]
        else:
            for key, value in (("label", label), ("fov", fov)):
                if value is not None:
                    data[key] = value
                    data["gt_fields"].append(key)
            data = self.transforms(data)
        data["img_path"] = img_path
        return data


@DATASETS.add_component
class SegDataset(Dataset):
    """PaddleSeg's alias name of `Dataset` (`type: SegDataset`); identical behaviour."""


class RawCache:
    """`load_raw` results by index, while their arrays fit in `max_bytes`. Decoding is half of a DRIVE
    sample's loading time. `get` returns copies, so a transform may write into its input. A file changed
    on disk after its first read keeps its first content until the process ends."""

    def __init__(self, max_bytes):
        self.max_bytes, self.nbytes, self.entries = max_bytes, 0, {}

    def get(self, idx, load):
        raw = self.entries.get(idx)
        if raw is None:
            raw = load(idx)
            size = sum(a.nbytes for a in raw if isinstance(a, np.ndarray))
            if self.nbytes + size <= self.max_bytes:
                self.entries[idx], self.nbytes = raw, self.nbytes + size
        return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in raw)


def check_root(owner, dataset_root):
    """Return `dataset_root` if it is an existing directory, else raise UserError."""
    if not isinstance(dataset_root, str) or not os.path.isdir(dataset_root):
        raise UserError("{}: dataset_root '{}' does not exist or is not a directory; "
                        "set `dataset_root` to the folder holding the data".format(owner, dataset_root))
    return dataset_root


def build_compose(transforms, img_channels, owner):
    """Wrap a list of transform objects (or None) in `Compose`; an existing Compose is used as is."""
    if transforms is None:
        transforms = []
    if isinstance(transforms, Compose):
        return transforms
    if not isinstance(transforms, (list, tuple)):
        raise TypeError("{}: transforms must be a list of transforms, got {}".format(
            owner, type(transforms).__name__))
    return Compose(list(transforms), to_rgb=True, img_channels=img_channels)


def read_file_list(list_path, dataset_root, separator=" ", mode="train"):
    """Parse a list file into `Sample`s, checking every referenced file exists.

    Args:
        list_path (str): The list file.
        dataset_root (str|None): Relative entries are joined to it.
        separator (str): Field separator; whitespace means any run of whitespace.
        mode (str): 'test' allows lines with the image only.

    Returns:
        list[Sample]
    """
    with open(list_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    samples = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            samples.append(_parse_line(line, separator, mode, "{}:{}".format(list_path, number), dataset_root))
    return samples


def _parse_line(line, separator, mode, where, dataset_root):
    fields = line.split() if separator.isspace() else [f.strip() for f in line.strip().split(separator)]
    min_fields = 1 if mode == "test" else 2
    if not min_fields <= len(fields) <= 3 or not all(fields):
        raise UserError("{}: expected 'image label [fov]' separated by {!r}{}, got {!r}".format(
            where, separator, " (label optional in test mode)" if mode == "test" else "", line))
    paths = [os.path.join(dataset_root or "", field) for field in fields]
    for path in paths:
        if not os.path.isfile(path):
            raise UserError("{}: file '{}' does not exist; fix the line or dataset_root".format(where, path))
    return Sample(*(paths + [None] * (3 - len(paths))))


def label_values(label):
    """Sorted distinct values of an integer label (bincount for uint8: cheap per sample)."""
    if label.dtype == np.uint8:
        return np.flatnonzero(np.bincount(label.ravel(), minlength=256))
    return np.unique(label)
