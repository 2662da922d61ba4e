"""Test helpers: write tiny DRIVE-like files (tif images, GIF labels/masks) without PIL.

OpenCV 5 cannot write GIF losslessly, so `write_gif` encodes a grayscale GIF itself: a 256-grey
palette and an LZW stream of literal 9-bit codes with a clear code every 250 pixels (the code
table never grows past 9 bits), which every decoder reads back exactly.
"""
import os
import struct

import cv2
import numpy as np

_CLEAR, _END, _RUN = 256, 257, 250


def write_gif(path, gray):
    """Write an HW uint8 array as a lossless grayscale GIF."""
    h, w = gray.shape
    palette = bytes(np.repeat(np.arange(256, dtype=np.uint8), 3))
    out = [b"GIF89a", struct.pack("<HHBBB", w, h, 0xF7, 0, 0), palette,
           b"\x2c", struct.pack("<HHHHB", 0, 0, w, h, 0), b"\x08"]
    data = _lzw_literals(gray.ravel().tolist())
    for i in range(0, len(data), 255):
        block = data[i:i + 255]
        out.append(bytes([len(block)]) + block)
    out.append(b"\x00\x3b")
    with open(path, "wb") as f:
        f.write(b"".join(out))


def _lzw_literals(pixels):
    codes = []
    for i in range(0, len(pixels), _RUN):
        codes.append(_CLEAR)
        codes.extend(pixels[i:i + _RUN])
    codes.append(_END)
    acc, nbits, out = 0, 0, bytearray()
    for code in codes:
        acc |= code << nbits
        nbits += 9
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def fundus_sample(rng, size):
    """(BGR image, 0/255 vessel mask, 0/255 FOV mask) of size (w, h)."""
    w, h = size
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    vessels = np.where(rng.random((h, w)) < 0.2, 255, 0).astype(np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    fov = np.where(np.hypot(xx - w / 2, yy - h / 2) < 0.45 * min(w, h), 255, 0).astype(np.uint8)
    return img, vessels, fov


def make_drive_folder(folder, ids, split, size=(40, 32), seed=0, labels=True, masks=True):
    """Write DRIVE-named files: images/<id>_<split>.tif, 1st_manual/<id>_manual1.gif, mask/<id>_<split>_mask.gif.

    Returns:
        dict: id -> (BGR image, vessel mask 0/255, FOV mask 0/255).
    """
    rng = np.random.default_rng(seed)
    for sub in ["images"] + (["1st_manual"] if labels else []) + (["mask"] if masks else []):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    written = {}
    for i in ids:
        img, vessels, fov = fundus_sample(rng, size)
        cv2.imwrite(os.path.join(folder, "images", "{:02d}_{}.tif".format(i, split)), img)
        if labels:
            write_gif(os.path.join(folder, "1st_manual", "{:02d}_manual1.gif".format(i)), vessels)
        if masks:
            write_gif(os.path.join(folder, "mask", "{:02d}_{}_mask.gif".format(i, split)), fov)
        written[i] = (img, vessels, fov)
    return written
