"""How the original archive of each vessel dataset names its files, and which images its usual split holds
out: what `vessels.py` reads when dataset_root holds an extracted archive instead of PaddleSeg's file lists.

What the archives hold (names from mmsegmentation's converters tools/dataset_converters/{stare,chase_db1,
hrf}.py and bob.ip.binseg's split files, which list every file; the splits are the papers' usual ones):
  * DRIVE (DRIVE.zip): training/{images/21_training.tif, 1st_manual/21_manual1.gif,
    mask/21_training_mask.gif} for ids 21-40, test/{images/01_test.tif, mask/01_test_mask.gif,
    1st_manual/01_manual1.gif when the copy has test labels} for ids 01-20. Split: the archive's own, or a
    flat folder (images/ 1st_manual/ mask/) with the last 20% of its ids for val.
  * STARE (the project page's tars): stare-images.tar holds the 20 labelled images im0001.ppm.gz ...
    im0324.ppm.gz, labels-ah.tar im0001.ah.ppm.gz (Adam Hoover: annotator 1), labels-vk.tar
    im0001.vk.ppm.gz (Valentina Kouznetsova: annotator 2), members at the top level, gzipped PPM (read as
    they are: `transforms/io.py` inflates gzip). No FOV masks. No official split: val = the last 10 ids
    (im0162-im0324), train = the first 10 (im0001-im0139), as Maninis et al. 2016, mmsegmentation and
    bob.ip.binseg.
  * CHASE_DB1 (CHASEDB1.zip, no folders): Image_01L.jpg, Image_01L_1stHO.png (annotator 1),
    Image_01L_2ndHO.png (annotator 2), children 01-14, left and right eye: 28 images. No FOV masks.
    Split: the first 20 (children 01-10) train, the last 8 (11-14) val, as mmsegmentation.
  * HRF (all.zip): images/01_dr.JPG (dr: .JPG; g, h: .jpg), manual1/01_dr.tif, mask/01_dr_mask.tif, for
    01-15 of dr (diabetic retinopathy), g (glaucoma) and h (healthy): 45 images, one annotator, FOV masks
    (used). No official split: 01-05 of each group train (15), 06-15 val (30), as Orlando et al. 2017,
    mmsegmentation and bob.ip.binseg.
STARE, CHASE_DB1 and HRF files are found anywhere under dataset_root (one folder, or one per archive),
matched by name, case-insensitively. Labels are 0/255 vessel masks (`dataset.mask_to_classes`).
"""
import collections
import glob
import os
import re

from paddleseg_lite.datasets.dataset import Sample
from paddleseg_lite.utils.errors import UserError

Found = collections.namedtuple("Found", ["pool", "test", "has_masks"])
Found.__doc__ = """The samples of an archive: `pool` {id: Sample} (train and val come from it), `test` {id: Sample}
of a separate test split (DRIVE's test/) or None, and whether the archive ships FOV masks."""


class Archive:
    """One dataset's file naming (subclasses set the class attributes).

    IMAGE / LABEL / MASK match file names; group 1 is the image's id as written, LABEL's group 2 (if any)
    names the annotator (one of ANNOTATORS). ID matches a user's `val_ids` entry and `make_id` turns its
    groups into the canonical id (an int, or a string such as '01L').
    """
    NAME = ""
    IMAGE = LABEL = MASK = None
    ANNOTATORS = ("first",)
    ID = re.compile(r"0*(\d+)")
    EXAMPLE_IDS = "[37, 38, 39, 40]"
    EXPECTED = ""  # the names, for messages

    @classmethod
    def make_id(cls, groups):
        return int(groups[0])

    @classmethod
    def parse_id(cls, value):
        """The canonical id of a `val_ids` entry or a file's id, or None when it is not one."""
        match = cls.ID.fullmatch(str(value).strip())
        return cls.make_id(match.groups()) if match else None

    @classmethod
    def default_val_ids(cls, ids):
        """The ids the dataset's usual split holds out for val (`ids` sorted)."""
        return ids[-max(1, round(len(ids) / 5)):]

    @classmethod
    def find(cls, root, annotator):
        """The samples of the archive files under `root` (label: annotator 1 or 2), or None if there are none."""
        images, labels, masks = {}, {}, {}
        tag = cls.ANNOTATORS[annotator - 1].lower()
        for path in _files_under(root):
            name = os.path.basename(path)
            for pattern, table in ((cls.IMAGE, images), (cls.LABEL, labels), (cls.MASK, masks)):
                match = pattern.fullmatch(name) if pattern is not None else None
                if match and (len(match.groups()) < 2 or match.group(2).lower() == tag):
                    _add(table, cls.parse_id(match.group(1)), path, cls.NAME)
                    break
        if not images:
            return None
        _check_masks(images, masks, cls.NAME, cls.EXPECTED)
        pool = {i: Sample(path, labels.get(i), masks.get(i), True) for i, path in images.items()}
        return Found(pool, None, bool(masks))

    @classmethod
    def locate(cls, root):
        """The folder under `root` to read as dataset_root (the files are found anywhere below it)."""
        return root

    @classmethod
    def missing_label(cls, sample, root):
        return "{}: image '{}' has no label (expected {} under '{}'); every train/val image needs one".format(
            cls.NAME, sample.img, cls.EXPECTED, root)


class DriveArchive(Archive):
    """DRIVE: the archive's training/ + test/ folders, or one flat folder of images/ 1st_manual/ mask/."""
    NAME = "DRIVE"
    ANNOTATORS = ("1st_manual",)
    EXPECTED = "images/21_training.tif, 1st_manual/21_manual1.gif, mask/21_training_mask.gif"

    @classmethod
    def find(cls, root, annotator):
        test = None
        if os.path.isdir(os.path.join(root, "training", "images")):
            pool = _scan_drive(os.path.join(root, "training"))
            test_dir = os.path.join(root, "test")
            test = _scan_drive(test_dir) if os.path.isdir(os.path.join(test_dir, "images")) else None
        elif os.path.isdir(os.path.join(root, "images")):
            pool = _scan_drive(root)
        else:
            return None
        return Found(pool, test, any(s.fov is not None for s in pool.values()))

    @classmethod
    def locate(cls, root):
        """The first folder (top-down) holding training/images (archive) or images/ + 1st_manual/ (flat)."""
        for path, dirs, _ in os.walk(root, followlinks=True):
            dirs.sort()
            if os.path.isdir(os.path.join(path, "training", "images")) or {"images", "1st_manual"} <= set(dirs):
                return path
        return None

    @classmethod
    def missing_label(cls, sample, root):
        folder = os.path.dirname(os.path.dirname(sample.img))
        number = os.path.basename(sample.img).split("_")[0]
        return "DRIVE: '{}' (or .png) not found; every train/val image needs it".format(
            os.path.join(folder, "1st_manual", number + "_manual1.gif"))


class StareArchive(Archive):
    NAME = "STARE"
    IMAGE = re.compile(r"im(\d{4})\.ppm(?:\.gz)?", re.I)
    LABEL = re.compile(r"im(\d{4})\.(ah|vk)\.ppm(?:\.gz)?", re.I)
    ANNOTATORS = ("ah", "vk")
    ID = re.compile(r"(?:im)?0*(\d+)", re.I)
    EXAMPLE_IDS = "[162, 163, 235] (im0162 ...)"
    EXPECTED = "im0001.ppm(.gz) with labels im0001.ah.ppm(.gz) / im0001.vk.ppm(.gz)"

    @classmethod
    def default_val_ids(cls, ids):
        return ids[len(ids) // 2:]


class ChaseArchive(Archive):
    NAME = "CHASEDB1"
    IMAGE = re.compile(r"Image_(\d{2}[LR])\.jpg", re.I)
    LABEL = re.compile(r"Image_(\d{2}[LR])_(1stHO|2ndHO)\.png", re.I)
    ANNOTATORS = ("1stHO", "2ndHO")
    ID = re.compile(r"(?:Image_)?0*(\d+)([LR])", re.I)
    EXAMPLE_IDS = "[11L, 11R, 12L]"
    EXPECTED = "Image_01L.jpg with labels Image_01L_1stHO.png / Image_01L_2ndHO.png"

    @classmethod
    def make_id(cls, groups):
        return "{:02d}{}".format(int(groups[0]), groups[1].upper())

    @classmethod
    def default_val_ids(cls, ids):
        return [i for i in ids if int(i[:2]) >= 11]


class HrfArchive(Archive):
    NAME = "HRF"
    IMAGE = re.compile(r"(\d{2}_(?:dr|g|h))\.jpe?g", re.I)
    LABEL = re.compile(r"(\d{2}_(?:dr|g|h))\.tif", re.I)
    MASK = re.compile(r"(\d{2}_(?:dr|g|h))_mask\.tif", re.I)
    ANNOTATORS = ("manual1",)
    ID = re.compile(r"0*(\d+)_(dr|g|h)", re.I)
    EXAMPLE_IDS = "[06_dr, 06_g, 06_h]"
    EXPECTED = "images/01_dr.JPG, manual1/01_dr.tif, mask/01_dr_mask.tif"

    @classmethod
    def make_id(cls, groups):
        return "{:02d}_{}".format(int(groups[0]), groups[1].lower())

    @classmethod
    def default_val_ids(cls, ids):
        return [i for i in ids if int(i[:2]) >= 6]


def _files_under(root):
    """Every file under `root` (following links, skipping hidden folders), in sorted order."""
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            yield os.path.join(folder, name)


def _add(table, key, path, name):
    if key in table:
        raise UserError("{}: two files for image {!r}: '{}' and '{}'; keep one of them".format(
            name, key, table[key], path))
    table[key] = path


def _check_masks(images, masks, name, expected):
    """An archive with FOV masks needs one for every image."""
    missing = sorted(set(images) - set(masks))
    if masks and missing:
        raise UserError("{}: image '{}' has no FOV mask ({} of {} have none; expected {})".format(
            name, images[missing[0]], len(missing), len(images), expected))


def _scan_drive(folder):
    """DRIVE samples in `folder`/{images,1st_manual,mask}: {id: Sample}.

    Image `images/21_training.tif` pairs with `1st_manual/21_manual1.*` (None when absent) and
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
        label = _find_one(os.path.join(folder, "1st_manual", match.group(1) + "_manual1"), False)
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
