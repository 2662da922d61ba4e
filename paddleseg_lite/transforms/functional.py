"""Pure numpy/OpenCV/Pillow helpers behind the registered transforms.

The registered ops (size.py, geometric.py, photometric.py) draw the random parameters and call
these functions; nothing here draws random numbers or modifies its inputs. Images are HWC (or HW)
arrays, labels HW integer arrays. Reading files is `io.py`.
"""
import cv2
import numpy as np
from PIL import Image, ImageEnhance


# dtypes OpenCV's resize/warpAffine/remap accept as they are.
_CV2_DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)

# PaddleSeg's RandomDistort enhancements: Pillow's own (the same results, bit for bit).
ENHANCERS = {"brightness": ImageEnhance.Brightness, "contrast": ImageEnhance.Contrast,
             "saturation": ImageEnhance.Color, "sharpness": ImageEnhance.Sharpness}


# ----------------------------------------------------------------------------- geometry

def _cv2_call(fn, arr, *args, **kwargs):
    """Run an OpenCV geometric function on `arr`, keeping its dtype and channel axis.

    Integer dtypes OpenCV does not support (int32, int64, ...) are processed as
    float64, which holds them exactly under NEAREST interpolation.
    """
    dtype = arr.dtype
    work = arr if dtype.type in _CV2_DTYPES else arr.astype(
        np.uint8 if dtype == np.bool_ else np.float64)
    out = fn(work, *args, **kwargs)
    if arr.ndim == 3 and out.ndim == 2:
        out = out[:, :, np.newaxis]
    return out.astype(dtype, copy=False)


def resize(arr, size, interp=cv2.INTER_LINEAR):
    """Resize to `size` = (w, h) with an OpenCV interpolation flag."""
    return _cv2_call(cv2.resize, arr, (int(size[0]), int(size[1])), interpolation=interp)


def rescale_size(img_size, target_size):
    """Size (w, h) that fits `img_size` into `target_size` keeping the aspect ratio.

    The scale is min(max(target)/max(img), min(target)/min(img)) and each side
    is rounded.

    Returns:
        tuple: ([w, h], scale).
    """
    scale = min(max(target_size) / max(img_size), min(target_size) / min(img_size))
    return [int(round(side * scale)) for side in img_size], scale


def resize_long(arr, long_size, interp=cv2.INTER_LINEAR):
    """Resize so that the longer side equals `long_size` (other side rounded)."""
    h, w = arr.shape[:2]
    scale = float(long_size) / max(h, w)
    return resize(arr, (int(round(w * scale)), int(round(h * scale))), interp)


def resize_short(arr, short_size, max_size, interp=cv2.INTER_LINEAR):
    """Resize so the shorter side equals `short_size`, unless the longer side would exceed `max_size`."""
    h, w = arr.shape[:2]
    scale = float(short_size) / min(h, w)
    if max(h, w) * scale > max_size:
        scale = float(max_size) / max(h, w)
    return resize(arr, (int(round(w * scale)), int(round(h * scale))), interp)


def pad(arr, pad_h, pad_w, value):
    """Pad `pad_h` rows at the bottom and `pad_w` columns at the right with a constant."""
    widths = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (arr.ndim - 2)
    return np.pad(arr, widths, mode="constant", constant_values=np.asarray(value).astype(arr.dtype))


def crop(arr, top, left, h, w):
    """Return a contiguous copy of the (h, w) window at (top, left)."""
    return arr[top:top + h, left:left + w].copy()


def horizontal_flip(arr):
    """Mirror left-right (a new array)."""
    return arr[:, ::-1].copy()


def vertical_flip(arr):
    """Mirror top-bottom (a new array)."""
    return arr[::-1].copy()


def rotate90(arr):
    """Rotate 90 degrees counter-clockwise, exactly (a new array; height and width swap)."""
    return np.rot90(arr).copy()


def _border_value(arr, value):
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    return (float(value),) * min(channels, 4)


def warp_affine(arr, matrix, size, interp, fill):
    """Apply a 2x3 affine `matrix` onto a canvas of `size` = (w, h); outside pixels get `fill`."""
    return _cv2_call(cv2.warpAffine, arr, matrix, (int(size[0]), int(size[1])), flags=interp,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=_border_value(arr, fill))


def rotation_matrix(h, w, angle):
    """Matrix and canvas size (w, h) that rotate an h x w image by `angle` degrees without cropping.

    The rotation is about (w // 2, h // 2) and the canvas grows to
    int(h*sin + w*cos) x int(h*cos + w*sin), as in PaddleSeg.
    """
    cx, cy = w // 2, h // 2
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(h * sin + w * cos), int(h * cos + w * sin)
    matrix[0, 2] += new_w / 2 - cx
    matrix[1, 2] += new_h / 2 - cy
    return matrix, (new_w, new_h)


def elastic_maps(h, w, displacements):
    """Sampling maps for an elastic deformation from a coarse displacement grid.

    Args:
        h (int): Image height.
        w (int): Image width.
        displacements (np.ndarray): (2, g, g) x/y displacements in pixels on a
            coarse grid, upsampled bicubically to every pixel.

    Returns:
        tuple: (map_x, map_y), each (h, w) float32 source coordinates.
    """
    dx = cv2.resize(displacements[0].astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(displacements[1].astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    grid_y, grid_x = np.mgrid[0:h, 0:w].astype(np.float32)
    return grid_x + dx, grid_y + dy


def remap(arr, map_x, map_y, interp, fill):
    """Sample `arr` at (map_x, map_y); coordinates outside the image get `fill`."""
    return _cv2_call(cv2.remap, arr, map_x, map_y, interp, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=_border_value(arr, fill))


# ----------------------------------------------------------------------------- photometric

def normalize(img, mean, std):
    """Return (img / 255 - mean) / std as float32."""
    return ((img.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)


def gamma_correct(img, gamma):
    """Return 255 * (img / 255) ** gamma as float32, img clipped to [0, 255] first."""
    return (255 * (np.clip(img.astype(np.float32), 0, 255) / 255) ** gamma).astype(np.float32)


def to_uint8(img):
    """Round and clip to a uint8 image (values outside 0..255 saturate)."""
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def to_pil(img):
    """A uint8 HxW or HxWxC image (C 1, 3 or 4) as a PIL image ('L', 'RGB', 'RGBA')."""
    return Image.fromarray(img[:, :, 0] if img.ndim == 3 and img.shape[2] == 1 else img)


def enhance(image, op, factor):
    """PIL.ImageEnhance `op` ('brightness', 'contrast', 'saturation': Color, 'sharpness') of a PIL image,
    as PaddleSeg's RandomDistort calls it."""
    return ENHANCERS[op](image).enhance(factor)


def shift_hue(image, delta):
    """PaddleSeg's hue shift of an RGB PIL image: HSV hue (0..255) + delta, the float sum truncated and wrapped
    into uint8 as numpy stores it, then back to RGB."""
    hue, saturation, value = image.convert("HSV").split()
    shifted = np.trunc(np.asarray(hue, np.float64) + delta).astype(np.int64) % 256
    return Image.merge("HSV", (Image.fromarray(shifted.astype(np.uint8)), saturation, value)).convert("RGB")


def clahe(img, clip_limit, tile_grid_size):
    """Contrast-limited adaptive histogram equalisation of a uint8 image.

    One channel is equalised directly; three channels are equalised on the
    L channel of CIE Lab, so colours (and gray images) keep their hue.

    Returns:
        np.ndarray: uint8, the same shape as `img`.
    """
    op = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(tile_grid_size, tile_grid_size))
    if img.shape[2] == 1:
        return op.apply(img[:, :, 0])[:, :, np.newaxis]
    lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)
    lab[:, :, 0] = op.apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
