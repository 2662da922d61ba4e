"""Retinal-vessel datasets (DRIVE, STARE, CHASE_DB1, HRF) as short declarations on one base.

Flow: the builder makes one from YAML (`type: DRIVE`); it finds its files under `dataset_root`
(downloading PaddleSeg's release when the root is missing and the user opts in, see `download.py`)
and then behaves as the file-list `Dataset`.

Layouts found under dataset_root, no conversion step needed:
  * PaddleSeg release (all four datasets): `train_list.txt`, `val_list.txt` (+ optional
    `test_list.txt`), labels 0/1, optional third column = FOV mask (see `dataset.py`).
  * DRIVE only, the original archive: `training/{images,1st_manual,mask}` and
    `test/{images,1st_manual,mask}`; val and test use the test split. Vessel masks 0/255 -> 0/1.
  * DRIVE only, one flat folder `images/ 1st_manual/ mask/` (e.g. the 20 training images):
    val uses the images whose ids are in `val_ids`, train the others. Default: the last 20% of the
    ids (at least 1), i.e. ids 37-40 of DRIVE's training set. With the original archive `val_ids`
    holds those images of `training/` out for val instead of using the test split.
Pixels outside the FOV mask become ignore_index; the mask is returned as `fov`. STARE, CHASE_DB1 and HRF
ship no masks: `fov: auto` estimates them from the images (a mask given with a sample wins).
"""
import glob
import os
import re

from paddleseg_lite.datasets.dataset import Dataset, Sample, read_file_list
from paddleseg_lite.datasets.download import ensure_dataset
from paddleseg_lite.registry import DATASETS
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.validate import check_str


class VesselDataset(Dataset):
    """Base of the named vessel datasets: PaddleSeg's arguments plus our extras.

    Args:
        dataset_root (str, optional): Data folder; default the class's `DEFAULT_ROOT`.
        transforms (list, optional): Transform objects (wrapped in `Compose`).
        edge (bool): PaddleSeg's edge labels; not supported, must be False.
        mode (str): 'train', 'val' or 'test' (test: the val/test images; labels optional).
        fov (str, optional): 'auto' estimates the FOV of images without a mask; or a folder of masks
            matched by file stem (see `datasets/fov.py`). Default None: only the dataset's own masks.

    Returns (per item):
        dict as `Dataset`: `img`, `label`, `fov` (when masks exist), `trans_info`, `img_path`.
    """
    NUM_CLASSES = 2
    IGNORE_INDEX = 255
    IMG_CHANNELS = 3
    DEFAULT_ROOT = None
    MISSING_HINT = ""  # appended to the "data not found" error; may use {root}

    def __init__(self, dataset_root=None, transforms=None, edge=False, mode="train", fov=None):
        self._setup(mode, transforms, self.NUM_CLASSES, self.IGNORE_INDEX, self.IMG_CHANNELS, edge, fov)
        root = dataset_root if dataset_root is not None else self.DEFAULT_ROOT
        check_str(type(self).__name__, "dataset_root", root, "a path string")
        self.dataset_root = ensure_dataset(type(self).__name__, root, self.MISSING_HINT.format(root=root))
        self.file_list = self._collect_samples()
        self._require_samples(self.dataset_root)

    def _collect_samples(self):
        return self._file_list_samples()

    def _file_list_samples(self):
        """PaddleSeg release layout: train_list.txt / val_list.txt (test: test_list.txt if present)."""
        names = {"train": ["train_list.txt"], "val": ["val_list.txt"],
                 "test": ["test_list.txt", "val_list.txt"]}[self.mode]
        for name in names:
            path = os.path.join(self.dataset_root, name)
            if os.path.isfile(path):
                return read_file_list(path, self.dataset_root, " ", self.mode)
        raise UserError("{}: '{}' not found in dataset_root '{}'; the PaddleSeg layout needs train_list.txt "
                        "and val_list.txt".format(type(self).__name__, names[0], self.dataset_root))


@DATASETS.add_component
class DRIVE(VesselDataset):
    """DRIVE (40 fundus images, 565x584): PaddleSeg file lists, the original archive, or a flat folder.

    Args:
        dataset_root, transforms, edge, mode, fov: see `VesselDataset`.
        val_ids (list[int], optional): Image ids (the number in `21_training.tif`) held out for val from
            a flat folder or from `training/` of the original archive. Default on a flat folder: the
            last 20% of the ids; on the archive: none (val = test split).
    """
    DEFAULT_ROOT = "data/DRIVE"
    MISSING_HINT = ("; from the original DRIVE.zip run `python tools/prepare_drive.py --src DRIVE.zip "
                    "--out {root}` or set dataset_root to its extracted folder")

    def __init__(self, dataset_root=None, transforms=None, edge=False, mode="train", val_ids=None, fov=None):
        self.val_ids = _normalize_ids(val_ids)
        super().__init__(dataset_root, transforms, edge, mode, fov)

    def _collect_samples(self):
        root = self.dataset_root
        if os.path.isfile(os.path.join(root, "train_list.txt")):
            if self.val_ids is not None:
                raise ValueError("DRIVE: val_ids applies to the original DRIVE images; '{}' uses "
                                 "train_list.txt / val_list.txt, so edit those instead".format(root))
            return self._file_list_samples()
        if os.path.isdir(os.path.join(root, "training", "images")):
            return self._archive_samples(root)
        if os.path.isdir(os.path.join(root, "images")):
            return self._split_flat(_scan_folder(root, self.mode != "test"))
        raise UserError("DRIVE: dataset_root '{}' has neither train_list.txt (PaddleSeg layout), "
                        "training/images (original archive) nor images/ + 1st_manual/ (flat); "
                        "point dataset_root at one of them".format(root))

    def _archive_samples(self, root):
        if self.val_ids is not None and self.mode in ("train", "val"):
            return self._split_flat(_scan_folder(os.path.join(root, "training"), True))
        if self.mode == "train":
            return list(_scan_folder(os.path.join(root, "training"), True).values())
        test_dir = os.path.join(root, "test")
        if not os.path.isdir(os.path.join(test_dir, "images")):
            raise UserError("DRIVE: '{}' is missing, so there is no {} split; add it or set `val_ids` "
                            "to hold out training images".format(os.path.join(test_dir, "images"), self.mode))
        if self.mode == "val" and not os.path.isdir(os.path.join(test_dir, "1st_manual")):
            raise UserError("DRIVE: '{}' is missing (this archive has no test labels), so val cannot use the "
                            "test split; set `val_ids` to hold out training images".format(
                                os.path.join(test_dir, "1st_manual")))
        return list(_scan_folder(test_dir, self.mode == "val").values())

    def _split_flat(self, samples):
        """Split {id: Sample} into train (ids not in val_ids) and val/test (ids in val_ids)."""
        ids = sorted(samples)
        val_ids = self.val_ids
        if val_ids is None:
            val_ids = ids[-max(1, round(len(ids) / 5)):]
            logger.info("DRIVE: no val_ids given; holding out ids {} of '{}' for val (set `val_ids` to "
                        "choose)".format(val_ids, self.dataset_root))
        unknown = sorted(set(val_ids) - set(ids))
        if unknown:
            raise ValueError("DRIVE: val_ids {} not found in '{}' (ids there: {})".format(
                unknown, self.dataset_root, ids))
        keep = (lambda i: i not in val_ids) if self.mode == "train" else (lambda i: i in val_ids)
        return [samples[i] for i in ids if keep(i)]


@DATASETS.add_component
class STARE(VesselDataset):
    """STARE (20 images, 700x605), PaddleSeg release layout. Args: see `VesselDataset`."""
    DEFAULT_ROOT = "data/STARE"


@DATASETS.add_component
class CHASEDB1(VesselDataset):
    """CHASE_DB1 (28 images, 999x960), PaddleSeg release layout. Args: see `VesselDataset`."""
    DEFAULT_ROOT = "data/CHASE_DB1"


@DATASETS.add_component
class HRF(VesselDataset):
    """HRF (45 images, 3504x2336), PaddleSeg release layout. Args: see `VesselDataset`."""
    DEFAULT_ROOT = "data/HRF"


def _normalize_ids(val_ids):
    if val_ids is None:
        return None
    if isinstance(val_ids, (int, str)):
        val_ids = [val_ids]
    try:
        return sorted({int(i) for i in val_ids})
    except (TypeError, ValueError):
        raise ValueError("DRIVE: val_ids must be a list of image ids such as [37, 38, 39, 40], "
                         "got {!r}".format(val_ids)) from None


def _scan_folder(folder, need_labels):
    """Find DRIVE samples in `folder`/{images,1st_manual,mask}: {id: Sample}.

    Image `images/21_training.tif` pairs with `1st_manual/21_manual1.*` and
    `mask/21_training_mask.*` (the mask folder is optional, but then every image needs one).
    """
    image_dir = os.path.join(folder, "images")
    has_masks = os.path.isdir(os.path.join(folder, "mask"))
    samples = {}
    for path in sorted(glob.glob(os.path.join(image_dir, "*"))):
        match = re.match(r"(\d+)_", os.path.basename(path))
        if not match:
            continue
        stem = os.path.splitext(os.path.basename(path))[0]
        label = _find_one(os.path.join(folder, "1st_manual", match.group(1) + "_manual1"), need_labels)
        fov = _find_one(os.path.join(folder, "mask", stem + "_mask"), True) if has_masks else None
        samples[int(match.group(1))] = Sample(path, label, fov, True)
    if not samples:
        raise UserError("DRIVE: no images named like '21_training.tif' in '{}'".format(image_dir))
    return samples


def _find_one(prefix, required):
    """The file `prefix.<any extension>`; UserError if required and absent."""
    found = sorted(glob.glob(glob.escape(prefix) + ".*"))
    if not found and required:
        raise UserError("DRIVE: '{}.gif' (or .png) not found; every image needs it".format(prefix))
    return found[0] if found else None
