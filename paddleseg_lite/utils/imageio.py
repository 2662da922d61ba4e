"""Writing output images atomically (temp file + rename): OpenCV for ordinary images, Pillow for palette
('P') PNGs (PaddleSeg's pseudo-colour predictions), which OpenCV cannot write."""
import io
import os
import uuid

import cv2
import numpy as np
from PIL import Image

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


def palette_png_bytes(index, palette):
    """An 8-bit palette PNG: pixel values are class ids, `palette` (Kx3 uint8 RGB) gives their colours
    (256 entries, black after the K given)."""
    plte = np.zeros((256, 3), np.uint8)
    plte[:len(palette)] = palette[:256]
    image = Image.fromarray(np.ascontiguousarray(index, np.uint8))
    image.putpalette(plte.tobytes())  # mode L becomes P
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def write_palette_png(path, index, palette):
    """Write `index` (HxW class ids) as a palette PNG, atomically."""
    write_bytes_atomic(path, palette_png_bytes(index, palette))
