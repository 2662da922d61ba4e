"""Test helpers: miniature STARE, CHASE_DB1 and HRF archives with the real file names and formats
(gzipped PPM in flat tars, a flat zip of JPG + PNG, a zip of JPG + TIF in folders), tiny synthetic images.

Each image is dark outside a centred disk (its field of view) and bright inside, so the FOV estimator has
a known answer; the vessel masks hold 0 and 255 plus a few in-between values (200 counts as vessel, 100
not, the threshold of 128).
"""
import gzip
import io
import os
import tarfile
import zipfile

import cv2
import numpy as np

SIZE = (40, 32)  # w, h
STARE_IDS = [1, 2, 3, 4, 5, 44, 77, 81, 82, 139, 162, 163, 235, 236, 239, 240, 255, 291, 319, 324]
CHASE_IDS = ["{:02d}{}".format(n, eye) for n in range(1, 15) for eye in "LR"]
HRF_IDS = ["{:02d}_{}".format(n, group) for group in ("dr", "g", "h") for n in range(1, 16)]


def disk(size=SIZE):
    """The FOV: 1 inside a centred disk, 0 outside (h, w) uint8."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    return (np.hypot(xx - (w - 1) / 2, yy - (h - 1) / 2) < 0.42 * min(w, h)).astype(np.uint8)


def sample(seed, size=SIZE):
    """(BGR image uint8, vessel mask uint8 with values 0/100/200/255, FOV 0/1) for one image."""
    rng = np.random.default_rng(seed)
    fov = disk(size)
    img = rng.integers(120, 220, (size[1], size[0], 3), dtype=np.uint8) * fov[:, :, None]
    mask = rng.choice(np.array([0, 0, 0, 100, 200, 255], np.uint8), (size[1], size[0]))
    return img, mask, fov


def vessel_classes(mask):
    """The hand rule: >= 128 is a vessel."""
    return (mask >= 128).astype(np.int64)


def _encode(ext, array):
    ok, data = cv2.imencode(ext, array)
    assert ok
    return data.tobytes()


def _add(archive, name, data):
    if isinstance(archive, zipfile.ZipFile):
        archive.writestr(name, data)
    else:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))


def make_stare(folder):
    """stare-images.tar, labels-ah.tar, labels-vk.tar in `folder` (flat members, gzipped PPM).

    Returns:
        (paths of the three tars, {id: (image, ah mask, vk mask, fov)})
    """
    truth, paths = {}, []
    for i in STARE_IDS:
        img, ah, fov = sample(i)
        truth[i] = (img, ah, 255 - ah, fov)  # vk: another annotation
    for tar_name, member, pick in (("stare-images.tar", "im{:04d}.ppm.gz", lambda t: t[0]),
                                   ("labels-ah.tar", "im{:04d}.ah.ppm.gz", lambda t: t[1]),
                                   ("labels-vk.tar", "im{:04d}.vk.ppm.gz", lambda t: t[2])):
        path = os.path.join(folder, tar_name)
        with tarfile.open(path, "w") as tar:
            for i in STARE_IDS:
                pixels = pick(truth[i])
                rgb = pixels if pixels.ndim == 3 else cv2.merge([pixels] * 3)  # labels are colour PPMs too
                _add(tar, member.format(i), gzip.compress(_encode(".ppm", rgb)))
        paths.append(path)
    return paths, truth


def make_chase(folder):
    """CHASEDB1.zip in `folder` (flat: Image_01L.jpg, Image_01L_1stHO.png, Image_01L_2ndHO.png).

    Returns:
        (zip path, {id: (image as decoded from the JPG, 1stHO mask, 2ndHO mask, fov)})
    """
    path, truth = os.path.join(folder, "CHASEDB1.zip"), {}
    with zipfile.ZipFile(path, "w") as z:
        for n, i in enumerate(CHASE_IDS):
            img, first, fov = sample(100 + n)
            jpg = _encode(".jpg", img)
            z.writestr("Image_{}.jpg".format(i), jpg)
            z.writestr("Image_{}_1stHO.png".format(i), _encode(".png", first))
            z.writestr("Image_{}_2ndHO.png".format(i), _encode(".png", 255 - first))
            truth[i] = (cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR), first, 255 - first, fov)
    return path, truth


def make_hrf(folder):
    """all.zip in `folder`: images/01_dr.JPG (g, h: .jpg), manual1/01_dr.tif, mask/01_dr_mask.tif (RGB).

    The FOV masks are a smaller disk than the bright area, so they differ from an estimate.

    Returns:
        (zip path, {id: (decoded image, manual1 mask, fov mask 0/1)})
    """
    path, truth = os.path.join(folder, "all.zip"), {}
    small = disk((SIZE[0] - 12, SIZE[1] - 12))
    with zipfile.ZipFile(path, "w") as z:
        for n, i in enumerate(HRF_IDS):
            img, mask, _ = sample(200 + n)
            fov = np.zeros_like(mask)
            fov[6:-6, 6:-6] = small
            jpg = _encode(".jpg", img)
            z.writestr("images/{}.{}".format(i, "JPG" if i.endswith("dr") else "jpg"), jpg)
            z.writestr("manual1/{}.tif".format(i), _encode(".tif", mask))
            z.writestr("mask/{}_mask.tif".format(i), _encode(".tif", cv2.merge([fov * 255] * 3)))
            truth[i] = (cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR), mask, fov)
    return path, truth


def extract(paths, folder):
    """Extract zips / tars into `folder` (as a user would: everything in one folder)."""
    for path in paths:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                z.extractall(folder)
        else:
            with tarfile.open(path) as tar:
                tar.extractall(folder, filter="data")
    return folder
