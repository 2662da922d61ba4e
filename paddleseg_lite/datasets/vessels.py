"""Retinal-vessel datasets (DRIVE, STARE, CHASE_DB1, HRF) as short declarations on one base.

Flow: the builder makes one from YAML (`type: DRIVE`); it finds its files under `dataset_root`
(downloading PaddleSeg's release when the root is missing and the user opts in, see `download.py`)
and then behaves as the file-list `Dataset`.

Layouts found under dataset_root, no conversion step needed:
  * PaddleSeg release (all four datasets): `train_list.txt`, `val_list.txt` (+ optional
    `test_list.txt`), labels 0/1, optional third column = FOV mask (see `dataset.py`).
  * The original archive, extracted (file naming and usual splits: `vessel_archives.py`): DRIVE's
    training/ + test/ (or one flat images/ 1st_manual/ mask/ folder), STARE's tars, CHASEDB1.zip, HRF's
    all.zip. Vessel masks 0/255 -> 0/1. `val_ids` holds those images out for val, the others train; by
    default the dataset's usual split (DRIVE's archive: val and test = its test split).
  * Split lists: `train_path` / `val_path` / `test_path` (PaddleSeg's file-list format, relative to
    dataset_root; e.g. tools/split_dataset.py's folds) select exactly the listed samples of the mode, over
    the layout's split and `val_ids`; the layout's label rule and FOV masks still apply.
Pixels outside the FOV mask become ignore_index; the mask is returned as `fov`. An original archive
without masks (STARE, CHASE_DB1) gets `fov: auto` unless `fov` is set (`none` turns it off).
"""
import os

from paddleseg_lite.datasets import vessel_archives
from paddleseg_lite.datasets.dataset import Dataset, Sample, read_file_list
from paddleseg_lite.datasets.download import ensure_dataset
from paddleseg_lite.datasets.fov import AUTO, FovSource
from paddleseg_lite.registry import DATASETS
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.validate import check_choice, check_str

RELEASE_LISTS = {"train": ["train_list.txt"], "val": ["val_list.txt"], "test": ["test_list.txt", "val_list.txt"]}


class VesselDataset(Dataset):
    """Base of the named vessel datasets: PaddleSeg's arguments plus our extras.

    Args:
        dataset_root (str, optional): Data folder; default the class's `DEFAULT_ROOT`.
        transforms (list, optional): Transform objects (wrapped in `Compose`).
        edge (bool): PaddleSeg's edge labels; not supported, must be False.
        mode (str): 'train', 'val' or 'test' (test: the val/test images; labels optional).
        val_ids (list, optional): Image ids of an original archive held out for val (the others train),
            e.g. DRIVE 37 (`37_training.tif`), STARE 162 (`im0162`), CHASEDB1 '11L', HRF '06_dr'.
            Default: the dataset's usual split (see `vessel_archives.py`).
        annotator (int): 1 (default) or 2: whose labels, where the archive has two (STARE ah / vk,
            CHASE_DB1 1stHO / 2ndHO).
        fov (str, optional): 'auto' estimates the FOV of images without a mask; a folder of masks matched
            by file stem (see `datasets/fov.py`); 'none'. Default: the dataset's own masks, or 'auto' for
            an original archive that has none.
        train_path, val_path, test_path (str, optional): Split list of the mode (`image label [fov]`
            lines relative to dataset_root): exactly these samples.

    Returns (per item):
        dict as `Dataset`: `img`, `label`, `fov` (when masks exist), `trans_info`, `img_path`.
    """
    NUM_CLASSES = 2
    IGNORE_INDEX = 255
    IMG_CHANNELS = 3
    DEFAULT_ROOT = None
    ARCHIVE = vessel_archives.Archive
    MISSING_HINT = ("; from the original archive run `python tools/prepare_dataset.py --dataset {name} --src "
                    "<archive> --out {root}` or set dataset_root to its extracted folder")

    def __init__(self, dataset_root=None, transforms=None, edge=False, mode="train", val_ids=None, annotator=1,
                 fov=None, train_path=None, val_path=None, test_path=None):
        self._setup(mode, transforms, self.NUM_CLASSES, self.IGNORE_INDEX, self.IMG_CHANNELS, edge, fov)
        name = type(self).__name__
        self.val_ids = self._parse_val_ids(val_ids)
        self.annotator = check_choice(name, "annotator", annotator, (1, 2)[:len(self.ARCHIVE.ANNOTATORS)])
        root = dataset_root if dataset_root is not None else self.DEFAULT_ROOT
        check_str(name, "dataset_root", root, "a path string")
        hint = self.MISSING_HINT.format(name=self.ARCHIVE.NAME, root=root)
        self.dataset_root = ensure_dataset(name, root, hint)
        self.list_path = {"train": train_path, "val": val_path, "test": test_path}[self.mode]
        self.separate_test = False  # whether test mode reads a test split of its own (DRIVE's test/)
        self.held_out = None  # the archive's image ids val uses (None: a list file or the test split)
        self.file_list = self._collect_samples(fov is None)
        self._require_samples(self.list_path or self.dataset_root)

    def _collect_samples(self, fov_unset):
        root, name = self.dataset_root, type(self).__name__
        if any(os.path.isfile(os.path.join(root, n)) for n in ("train_list.txt", "val_list.txt", "test_list.txt")):
            if self.val_ids is not None:
                raise ValueError("{}: val_ids applies to the original {} images; '{}' uses train_list.txt / "
                                 "val_list.txt, so edit those instead".format(name, self.ARCHIVE.NAME, root))
            if self.list_path:
                return self._listed(self._release_pool(), False)
            return self._release_samples(RELEASE_LISTS[self.mode])
        found = self.ARCHIVE.find(root, self.annotator)
        if found is None:
            raise UserError("{}: dataset_root '{}' has neither train_list.txt (PaddleSeg layout) nor the original "
                            "archive's files ({}); point dataset_root at one of them".format(
                                name, root, self.ARCHIVE.EXPECTED))
        if fov_unset and not found.has_masks:
            logger.info("{}: the archive has no FOV masks; estimating them (fov: auto; set `fov: none` for whole "
                        "images)".format(name))
            self.fov_source = FovSource(AUTO, "{}: fov".format(name))
        self.separate_test = found.test is not None
        if self.list_path:
            return self._listed({**found.pool, **{("test", i): s for i, s in (found.test or {}).items()}}, True)
        return self._split(found)

    def _release_samples(self, names):
        """PaddleSeg release layout: the first list of `names` that exists."""
        for list_name in names:
            path = os.path.join(self.dataset_root, list_name)
            if os.path.isfile(path):
                return read_file_list(path, self.dataset_root, " ", self.mode)
        raise UserError("{}: '{}' not found in dataset_root '{}'; the PaddleSeg layout needs train_list.txt "
                        "and val_list.txt".format(type(self).__name__, names[0], self.dataset_root))

    def _release_pool(self):
        pool = {}
        for list_name in ("train_list.txt", "val_list.txt", "test_list.txt"):
            path = os.path.join(self.dataset_root, list_name)
            if os.path.isfile(path):
                pool.update(enumerate(read_file_list(path, self.dataset_root, " ", "test"), len(pool)))
        return pool

    def _listed(self, pool, label_is_mask):
        """The samples of the mode's split list; a line without a FOV mask gets the layout's mask of its image."""
        if self.val_ids is not None:
            logger.info("{}: {}_path lists the {} samples; val_ids is not used for them".format(
                type(self).__name__, self.mode, self.mode))
        fovs = {os.path.realpath(s.img): s.fov for s in pool.values()}
        samples = read_file_list(self._resolve_list(self.list_path), self.dataset_root, " ", self.mode)
        return [Sample(s.img, s.label, s.fov or fovs.get(os.path.realpath(s.img)), label_is_mask) for s in samples]

    def _split(self, found):
        """The mode's samples of an original archive: `val_ids` (or the usual split) for val, the rest train."""
        pool = found.pool
        if self.val_ids is None and found.test is not None:
            chosen = list(pool.values()) if self.mode == "train" else list(found.test.values())
            if self.mode == "val" and all(s.label is None for s in chosen):
                raise UserError("{}: '{}' has no test labels, so val cannot use the test split; set `val_ids` to "
                                "hold out training images".format(type(self).__name__, self.dataset_root))
        elif self.mode == "test" and found.test is not None:
            chosen = list(found.test.values())
        else:
            val_ids = self._val_ids(sorted(pool))
            keep = (lambda i: i not in val_ids) if self.mode == "train" else (lambda i: i in val_ids)
            chosen = [pool[i] for i in sorted(pool) if keep(i)]
        if self.mode != "test":
            for sample in chosen:
                if sample.label is None:
                    raise UserError(self.ARCHIVE.missing_label(sample, self.dataset_root))
        return chosen

    def _val_ids(self, ids):
        name = type(self).__name__
        if self.val_ids is None:
            val_ids = self.ARCHIVE.default_val_ids(ids)
            logger.info("{}: no val_ids given; holding out ids {} for val, the usual split (set `val_ids` to "
                        "choose)".format(name, val_ids))
        else:
            val_ids = self.val_ids
            unknown = sorted(set(val_ids) - set(ids))
            if unknown:
                raise ValueError("{}: val_ids {} not found in '{}' (ids there: {})".format(
                    name, unknown, self.dataset_root, ids))
        self.held_out = list(val_ids)
        return set(val_ids)

    def _parse_val_ids(self, val_ids):
        if val_ids is None:
            return None
        values = val_ids if isinstance(val_ids, (list, tuple)) else [val_ids]
        ids = [self.ARCHIVE.parse_id(v) for v in values]
        if None in ids:
            raise ValueError("{}: val_ids must be a list of image ids such as {}, got {!r}".format(
                type(self).__name__, self.ARCHIVE.EXAMPLE_IDS, val_ids))
        return sorted(set(ids))


@DATASETS.add_component
class DRIVE(VesselDataset):
    """DRIVE (40 fundus images, 565x584): PaddleSeg file lists, the original archive, or a flat folder.
    Args: see `VesselDataset`; `val_ids` default on a flat folder: the last 20% of the ids; on the archive:
    none (val = test split)."""
    DEFAULT_ROOT = "data/DRIVE"
    ARCHIVE = vessel_archives.DriveArchive


@DATASETS.add_component
class STARE(VesselDataset):
    """STARE (20 labelled images, 700x605): PaddleSeg file lists or the original tars. Args: see `VesselDataset`."""
    DEFAULT_ROOT = "data/STARE"
    ARCHIVE = vessel_archives.StareArchive


@DATASETS.add_component
class CHASEDB1(VesselDataset):
    """CHASE_DB1 (28 images, 999x960): PaddleSeg file lists or CHASEDB1.zip. Args: see `VesselDataset`."""
    DEFAULT_ROOT = "data/CHASE_DB1"
    ARCHIVE = vessel_archives.ChaseArchive


@DATASETS.add_component
class HRF(VesselDataset):
    """HRF (45 images, 3504x2336): PaddleSeg file lists or all.zip (with FOV masks). Args: see `VesselDataset`."""
    DEFAULT_ROOT = "data/HRF"
    ARCHIVE = vessel_archives.HrfArchive
