"""Writing output images atomically (temp file + rename), including palette ('P') PNGs without PIL."""
import os
import struct
import uuid
import zlib

import cv2
import numpy as np

from paddleseg_lite.utils.fileio import writing


def write_bytes_atomic(path, data):
    """Write `data` to `path` via a temporary file in the same directory, then rename (a failed write
    leaves no temporary and is a one-line UserError: `fileio.writing`)."""
    tmp = "{}.tmp-{}".format(path, uuid.uuid4().hex[:8])
    with writing(tmp, path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
    os.replace(tmp, path)


def write_image(path, img):
    """Encode `img` (HxW or HxWx3 BGR) by the file suffix with OpenCV and write it atomically."""
    ok, buf = cv2.imencode(os.path.splitext(path)[1] or ".png", img)
    if not ok:
        raise ValueError("OpenCV cannot encode an image as {}".format(path))
    write_bytes_atomic(path, buf.tobytes())


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def palette_png_bytes(index, palette):
    """An 8-bit palette PNG: pixel values are class ids, `palette` (Kx3 uint8 RGB) gives their colours."""
    index = np.ascontiguousarray(index, np.uint8)
    height, width = index.shape
    raw = np.concatenate([np.zeros((height, 1), np.uint8), index], axis=1).tobytes()  # filter 0 per row
    plte = np.zeros((256, 3), np.uint8)
    plte[:len(palette)] = palette[:256]
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
            + _chunk(b"PLTE", plte.tobytes()) + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b""))


def write_palette_png(path, index, palette):
    """Write `index` (HxW class ids) as a palette PNG, atomically."""
    write_bytes_atomic(path, palette_png_bytes(index, palette))
