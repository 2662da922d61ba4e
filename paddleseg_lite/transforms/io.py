"""Reading a sample's files: the one reader behind `Compose` (paths in the sample dict) and
`Dataset.load_raw` (paths from the list files).

The decoding itself (OpenCV, palette PNGs, gray GIFs) is `functional.read_image` / `read_label`;
this module adds the sample rules: images come out RGB, a `fov` mask comes out 0/1, and every
gt_field must have its image's size.
"""
import numpy as np

from paddleseg_lite.transforms import functional as F
from paddleseg_lite.utils.errors import UserError


def read_image(path, channels=3, to_rgb=True):
    """An image file as (H, W, channels) float32, RGB for 3 channels (BGR with `to_rgb=False`).

    Raises:
        UserError: the file is missing or OpenCV cannot decode it.
    """
    img = F.read_image(path, channels)
    return np.ascontiguousarray(img[:, :, ::-1]) if to_rgb and img.shape[2] == 3 else img


def read_fov(path):
    """A field-of-view mask file as (H, W) uint8, 1 where the file is nonzero."""
    return (F.read_label(path) > 0).astype(np.uint8)


def read_gt(key, path):
    """The gt_field `key` from a file: `fov` as a 0/1 mask, anything else (`label`) as stored class ids."""
    return read_fov(path) if key == "fov" else F.read_label(path)


def check_same_size(key, source, array, img_source, img_hw):
    """Raise UserError when the gt_field `array` (from `source`) and its image differ in height or width."""
    if tuple(array.shape[:2]) != tuple(img_hw[:2]):
        raise UserError("size mismatch: {} '{}' is {}x{} (WxH) but its image '{}' is {}x{}; they must be the "
                        "same size (fix the file or its list line)".format(
                            key, _name(source), array.shape[1], array.shape[0], _name(img_source),
                            img_hw[1], img_hw[0]))


def _name(source):
    return source if isinstance(source, str) else "(array)"
