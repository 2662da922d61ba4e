"""Reading a sample's files: the one reader behind `Compose` (paths in the sample dict) and
`Dataset.load_raw` (paths from the list files).

Decoding uses OpenCV, with PNG palettes read from the file's PLTE chunk (labels saved as palette
PNGs keep their indices) and gray GIFs (DRIVE's masks), or their colours for a colour `label_map`
(`read_label_keys`); on top, the sample rules: images come out RGB,
a `fov` mask comes out 0/1, and every gt_field must have its image's size.

A file that cannot be read whole is a UserError naming it: missing, empty, truncated, or not decodable.
OpenCV returns a truncated JPEG with its missing part grey (libjpeg only prints a warning), so PNG and
JPEG files are checked for their end marker before decoding; a truncated TIFF or BMP fails to decode.
A gzip-compressed file (STARE ships `im0001.ppm.gz`) is inflated in memory first, whatever its name.
"""
import contextlib
import gzip
import struct
import zlib

import cv2
import numpy as np

from paddleseg_lite.utils.errors import UserError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GZIP_MAGIC = b"\x1f\x8b"


def read_image(path, channels=3, to_rgb=True):
    """An image file as (H, W, channels) float32, RGB for 3 channels (BGR with `to_rgb=False`).

    Raises:
        UserError: the file is missing, empty, truncated or not decodable.
    """
    img = _decode_image(path, channels)
    return np.ascontiguousarray(img[:, :, ::-1]) if to_rgb and img.shape[2] == 3 else img


def read_fov(path):
    """A field-of-view mask file as (H, W) uint8, 1 where the file is nonzero."""
    return (read_label(path) > 0).astype(np.uint8)


def read_gt(key, path):
    """The gt_field `key` from a file: `fov` as a 0/1 mask, anything else (`label`) as stored class ids."""
    return read_fov(path) if key == "fov" else read_label(path)


def check_same_size(key, source, array, img_source, img_hw):
    """Raise UserError when the gt_field `array` (from `source`) and its image differ in height or width."""
    if tuple(array.shape[:2]) != tuple(img_hw[:2]):
        raise UserError("size mismatch: {} '{}' is {}x{} (WxH) but its image '{}' is {}x{}; they must be the "
                        "same size (fix the file or its list line)".format(
                            key, _name(source), array.shape[1], array.shape[0], _name(img_source),
                            img_hw[1], img_hw[0]))


def _name(source):
    return source if isinstance(source, str) else "(array)"


def _decode_image(path, channels):
    """Read an image file as float32 with OpenCV (BGR order for 3 channels).

    Args:
        path (str): The image file.
        channels (int): 1 reads grayscale, 3 reads colour.

    Returns:
        np.ndarray: (H, W, channels) float32.

    Raises:
        UserError: the file is missing, empty, truncated or not decodable.
    """
    flag = cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR
    img = _imread(path, flag, "image")
    if img.ndim == 2:
        img = img[:, :, np.newaxis]
    return img.astype(np.float32)


def read_label(path):
    """Read a label (or mask) file as an HW integer array of stored values.

    Single-channel PNG/TIF/BMP files give their pixel values. A palette
    ('P' mode) PNG gives its palette indices (OpenCV decodes palettes to
    colours, so the colours are mapped back through the file's PLTE chunk).
    A colour-decoded file whose three channels are equal (e.g. a GIF) gives
    that gray value.

    Args:
        path (str): The label file.

    Returns:
        np.ndarray: (H, W) integer array (uint8 or uint16 as stored).

    Raises:
        UserError: missing/unreadable file, or a colour image that is not a
            palette PNG.
    """
    label = _imread(path, cv2.IMREAD_UNCHANGED, "label")
    if label.ndim == 2:
        return label
    rgb = label[:, :, 2::-1] if label.shape[2] >= 3 else label[:, :, :1]
    palette = png_palette(path)
    if palette is not None:
        return _palette_indices(rgb, palette, path)
    if np.all(rgb == rgb[:, :, :1]):
        return np.ascontiguousarray(rgb[:, :, 0])
    raise UserError("Label file {} is a colour image; labels must be single-channel class ids "
                    "(gray or palette PNG). Convert it, e.g. to a PNG of class indices, or map its colours to "
                    "classes: dataset option `label_map: {{'255,0,0': 1, '0,0,0': 0}}`, or tools/convert_labels.py "
                    "--map 255,0,0:1 0,0,0:0.".format(path))


def read_label_keys(path, label_map):
    """What the keys of `label_map` (a `utils.labels.LabelMap`) refer to in a label file: its stored values
    (H, W) as `read_label` gives them (palette PNG: the indices), or, for a colour map, its RGB colours
    (H, W, 3) uint8 as decoded (a palette PNG: its palette colours)."""
    if not label_map.colour:
        return read_label(path)
    return np.ascontiguousarray(_imread(path, cv2.IMREAD_COLOR, "label")[:, :, ::-1])


def _imread(path, flag, what):
    if not isinstance(path, str):
        raise UserError("Expected a file path or a numpy array for the {}, got {}.".format(
            what, type(path).__name__))
    data, problem = _intact_bytes(path)
    if problem is None:
        with _quiet_opencv():
            img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
        if img is not None:
            return img
        problem = ("OpenCV cannot decode it (damaged or truncated, or not an image despite its name); "
                   "re-create it")
    raise UserError("Cannot read {} file {}: {}.".format(what, path, problem))


def _intact_bytes(path):
    """The bytes of the file at `path` (read once: they are decoded from memory; inflated when gzipped) and
    None, or None and why they cannot be an intact image (missing, empty, truncated gzip/PNG/JPEG)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return None, "{}; check the path (in the file list or --image_path)".format(e.strerror or e)
    if not data:
        return None, "the file is empty (0 bytes); re-create or re-copy it"
    if data.startswith(GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            return None, "its gzip stream is damaged or truncated ({}); re-copy or re-download it".format(e)
    truncated = _png_truncation(data) if data.startswith(PNG_SIGNATURE) else _jpeg_truncation(data)
    if truncated:
        return None, "the file is truncated ({}); re-copy or re-download it".format(truncated)
    return data, None


def _png_truncation(data):
    """How a PNG file is cut short (a chunk running past the end, or no IEND chunk), or None."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        pos += 12 + length
        if pos > len(data):
            return "its {} chunk runs past the end of the file".format(kind.decode("latin-1"))
        if kind == b"IEND":
            return None
    return "it ends before its IEND chunk"


def _jpeg_truncation(data):
    """How a JPEG file is cut short (no end-of-image marker after its last scan), or None (also for
    other formats). The marker bytes FF D9 cannot occur inside entropy-coded data."""
    if data.startswith(b"\xff\xd8") and data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):
        return "it ends before its end-of-image marker"
    return None


@contextlib.contextmanager
def _quiet_opencv():
    """Silence OpenCV's log while decoding: a damaged file is reported once, by the UserError."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def png_palette(path):
    """Return the palette of a palette-mode PNG as an (N, 3) uint8 RGB array, else None."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if not data.startswith(PNG_SIGNATURE):
        return None
    pos, color_type = 8, None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            color_type = body[9]
        elif kind == b"PLTE" and color_type == 3:
            return np.frombuffer(body, np.uint8).reshape(-1, 3)
        elif kind in (b"IDAT", b"IEND"):
            return None
        pos += 12 + length
    return None


def _palette_indices(rgb, palette, path):
    """Map decoded RGB pixels back to the first palette index with that colour."""
    codes = _pack_rgb(palette)
    order = np.argsort(codes, kind="stable")
    unique_codes, first = np.unique(codes[order], return_index=True)
    pixel_codes = _pack_rgb(rgb)
    pos = np.clip(np.searchsorted(unique_codes, pixel_codes), 0, len(unique_codes) - 1)
    if not np.all(unique_codes[pos] == pixel_codes):
        raise UserError("Label file {} has colours that are not in its palette; save it as a "
                        "palette PNG or as single-channel class ids.".format(path))
    return order[first][pos].astype(np.uint8)


def _pack_rgb(rgb):
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
