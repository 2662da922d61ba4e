"""A dataset read straight from folders: `images/` + `masks/` (+ optional `fov/`), no list files.

Flow: the builder makes it from YAML (`type: FolderDataset`); it pairs the files under `dataset_root`
by name into `Sample`s and then behaves as the file-list `Dataset` (labels through `label_map`, FOV
masks, `fov: auto`, transforms).

Matching (MMSeg's rule): a file's key is its name without its folder's suffix (`img_suffix`,
`seg_map_suffix`, `fov_suffix`); files of the three folders with the same key are one sample. A suffix
without an extension matches any image format (.png .jpg .jpeg .tif .tiff .gif .bmp .ppm .pgm .webp, any
case): `21_training.tif`, `21_manual1.gif`, `21_training_mask.gif` are key `21` with the suffixes
`_training`, `_manual1`, `_training_mask`; with an extension (`.png`, `_manual1.gif`) it matches that
format only. The default suffix '' makes the key the file stem (`a.jpg` + `a.png`).

Without a `label_map`, masks holding only 0 and 255 are refused even when 255 is ignore_index (read as
they are, they would train on the background alone); `label_map: {0: 0, 255: 255}` says 255 is ignore.

Unmatched files: an image without a mask is an error naming the keys (train/val; in test mode masks
are optional); a mask or FOV mask without an image only warns (it is never read). With `fov/` present,
every image needs a FOV mask unless `fov: auto` estimates the missing ones. Two files of one folder with
the same key (`a.png`, `a.jpg`) are an error.

Splits: without a list file a mode sees every sample; with `train_path` / `val_path` / `test_path` (the
key of the mode; PaddleSeg's `image label [fov]` lines relative to dataset_root) exactly the listed
samples, a column a line leaves out (the FOV, a test image's label) taken from the folders' match.
"""
import os
import re

from paddleseg_lite.datasets.dataset import Dataset, Sample, check_root, read_file_list
from paddleseg_lite.datasets.fov import AUTO
from paddleseg_lite.registry import DATASETS
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.validate import check_str

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp", ".ppm", ".pgm", ".webp")
DEFAULT_FOV_DIR = "fov"
SHOWN = 10  # file names / keys listed in one message


@DATASETS.add_component
class FolderDataset(Dataset):
    """Images and masks in two folders (plus optional FOV masks), paired by file name.

    Args:
        dataset_root (str): The folder holding `img_dir`, `ann_dir` and `fov_dir`.
        num_classes (int): Number of classes (after `label_map`).
        transforms (list, optional): Transform objects (wrapped in `Compose`).
        mode (str): 'train', 'val' or 'test' (test: masks optional). Default 'train'.
        img_dir (str): Image folder under dataset_root. Default 'images'.
        ann_dir (str): Label (mask) folder under dataset_root. Default 'masks'.
        fov_dir (str): FOV mask folder (nonzero = inside) under dataset_root, used when it exists.
            Default 'fov'; another name must exist.
        img_suffix, seg_map_suffix, fov_suffix (str): End of the file names of each folder that is not
            part of the key, with or without the extension (see the module docstring). Default ''.
        label_map (dict, optional): Stored value or 'R,G,B' colour -> class id, e.g. {0: 0, 255: 1}
            for 0/255 masks (see `Dataset`). Default None: masks hold class ids.
        fov (str, optional): 'auto' estimates the FOV of images without a FOV mask; or a folder of masks
            matched by file stem (`datasets/fov.py`). Default None.
        train_path, val_path, test_path (str, optional): Split list of the mode (`image label [fov]`
            lines relative to dataset_root). Default None: every sample.
        separator (str): Field separator of the split lists. Default ' ' (any whitespace).
        ignore_index (int): Label value excluded from loss and metrics. Default 255.
        img_channels (int): 1 (grayscale) or 3 (RGB). Default 3.
        edge (bool): PaddleSeg's edge labels; not supported, must be False.

    Returns (per item):
        dict as `Dataset`: `img`, `label` (when the sample has a mask), `fov` (when it has one),
        `trans_info`, `img_path`.
    """

    REFUSE_0_255 = True  # masks as users have them: 0/255 without a label_map is never read as class 0 + ignore

    def __init__(self, dataset_root, num_classes, transforms=None, mode="train", img_dir="images",
                 ann_dir="masks", fov_dir=DEFAULT_FOV_DIR, img_suffix="", seg_map_suffix="", fov_suffix="",
                 label_map=None, fov=None, train_path=None, val_path=None, test_path=None, separator=" ",
                 ignore_index=255, img_channels=3, edge=False):
        self._setup(mode, transforms, num_classes, ignore_index, img_channels, edge, fov, label_map)
        name = type(self).__name__
        self.dataset_root = check_root(name, dataset_root)
        folders = {}
        for key, value in (("img_dir", img_dir), ("ann_dir", ann_dir), ("fov_dir", fov_dir),
                           ("img_suffix", img_suffix), ("seg_map_suffix", seg_map_suffix),
                           ("fov_suffix", fov_suffix)):
            folders[key] = check_str(name, key, value, "a string")
        self.layout = folders
        list_path = {"train": train_path, "val": val_path, "test": test_path}[self.mode]
        if list_path is None:
            self.file_list = self._all_samples()
            logger.info("{}: {} uses all {} samples of '{}' (set `{}_path` to a split list to choose)".format(
                name, self.mode, len(self.file_list), self.dataset_root, self.mode))
            self._require_samples(self.dataset_root)
        else:
            list_path = self._resolve_list(list_path)
            self.file_list = self._listed_samples(list_path, separator)
            self._require_samples(list_path)
        self._raw_cache.get(0, self.load_raw)  # read (and cached) now: a mask format mistake shows before training

    def _folder(self, key, required):
        """The folder `self.layout[key]` under dataset_root, or None when it is absent and not required."""
        path = os.path.join(self.dataset_root, self.layout[key])
        if os.path.isdir(path):
            return path
        if required:
            raise UserError("{}: folder '{}' not found; set `{}` to the folder under dataset_root '{}' that holds "
                            "the {}".format(type(self).__name__, path, key, self.dataset_root,
                                            "images" if key == "img_dir" else "masks"))
        return None

    def _scan(self, dir_key, suffix_key, required=False):
        """{key: path} of the folder `dir_key` (empty when it is absent and not required)."""
        folder = self._folder(dir_key, required)
        if folder is None:
            return {}
        found, skipped = scan_folder(folder, self.layout[suffix_key], type(self).__name__)
        if skipped:
            logger.warning("{}: {} file(s) in '{}' are skipped: not an image format or not ending in `{}` '{}': "
                           "{}".format(type(self).__name__, len(skipped), folder, suffix_key,
                                       self.layout[suffix_key], shown(skipped)))
        return found

    def _fov_scan(self):
        required = self.layout["fov_dir"] != DEFAULT_FOV_DIR
        return self._scan("fov_dir", "fov_suffix", required)

    def _all_samples(self):
        """Every image with its mask and FOV mask; unmatched files as the module docstring says."""
        images = self._scan("img_dir", "img_suffix", required=True)
        masks = self._scan("ann_dir", "seg_map_suffix", required=self.mode != "test")
        fovs = self._fov_scan()
        name = type(self).__name__
        if self.mode != "test":
            missing = sorted(set(images) - set(masks), key=natural_key)
            if missing:
                raise UserError("{}: {} of {} images have no mask in '{}': keys {} (expected <key>{}.* there); "
                                "add the masks, remove the images, or fix `seg_map_suffix`".format(
                                    name, len(missing), len(images), self._folder("ann_dir", False),
                                    shown(missing), self.layout["seg_map_suffix"]))
        if self._folder("fov_dir", False) and self.fov_source.source != AUTO:
            missing = sorted(set(images) - set(fovs), key=natural_key)
            if missing:
                raise UserError("{}: {} of {} images have no FOV mask in '{}': keys {}; add them, fix `fov_suffix`, "
                                "or set `fov: auto` to estimate the missing ones".format(
                                    name, len(missing), len(images), self._folder("fov_dir", False), shown(missing)))
        for kind, found in (("masks", masks), ("FOV masks", fovs)):
            stray = sorted(set(found) - set(images), key=natural_key)
            if stray:
                logger.warning("{}: {} {} have no image and are not used: keys {}".format(
                    name, len(stray), kind, shown(stray)))
        return [Sample(images[k], masks.get(k), fovs.get(k)) for k in sorted(images, key=natural_key)]

    def _listed_samples(self, list_path, separator):
        """The samples of a split list, the columns a line leaves out filled from the folders' match."""
        listed = read_file_list(list_path, self.dataset_root, separator, self.mode)
        images = self._scan("img_dir", "img_suffix") if self._folder("img_dir", False) else {}
        masks = self._scan("ann_dir", "seg_map_suffix")
        fovs = self._fov_scan()
        key_of = {os.path.realpath(path): key for key, path in images.items()}
        samples = []
        for sample in listed:
            key = key_of.get(os.path.realpath(sample.img))
            label = sample.label if sample.label is not None else masks.get(key)
            fov = sample.fov if sample.fov is not None else fovs.get(key)
            samples.append(Sample(sample.img, label, fov))
        return samples


def scan_folder(folder, suffix, owner):
    """The image files of `folder` by key (their name without `suffix`).

    Args:
        folder (str): The folder (not searched recursively; hidden files are ignored).
        suffix (str): End of the names that is not part of the key; without an extension it matches
            any of `IMAGE_EXTENSIONS` (in any case), with one only that extension.
        owner (str): The dataset's name, for messages.

    Returns:
        tuple: ({key: path}, [names of the other files]).

    Raises:
        UserError: two files have the same key.
    """
    dot = suffix.rfind(".")
    suffix_stem, suffix_ext = suffix, ""
    if dot >= 0 and suffix[dot:].lower() in IMAGE_EXTENSIONS:  # not os.path.splitext: '.png' has no stem
        suffix_stem, suffix_ext = suffix[:dot], suffix[dot:]
    found, skipped = {}, []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.startswith(".") or not os.path.isfile(path):
            continue
        stem, ext = os.path.splitext(name)
        if ext.lower() not in IMAGE_EXTENSIONS or not stem.endswith(suffix_stem) or stem == suffix_stem or (
                suffix_ext and ext.lower() != suffix_ext.lower()):
            skipped.append(name)
            continue
        key = stem[:len(stem) - len(suffix_stem)]
        if key in found:
            raise UserError("{}: '{}' and '{}' in '{}' are both key '{}'; keep one of them (or set a suffix that "
                            "tells them apart)".format(owner, os.path.basename(found[key]), name, folder, key))
        found[key] = path
    return found, skipped


def natural_key(text):
    """Sort key putting 'img2' before 'img10'."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


def shown(names):
    """The first SHOWN names joined, with how many more there are."""
    text = ", ".join(names[:SHOWN])
    return text + (" and {} more".format(len(names) - SHOWN) if len(names) > SHOWN else "")
