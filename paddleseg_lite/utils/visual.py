"""Colour maps, blended overlays and VisualDL logging (scalars and image panels)."""
import numpy as np

from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.labels import num_classes_of
from paddleseg_lite.utils.validate import is_int


def color_map(num_classes):
    """PaddleSeg's palette: the VOC bit-interleaved map without entry 0 (class0=(128,0,0), ...).

    Returns:
        np.ndarray: (num_classes, 3) uint8 RGB.
    """
    colors = np.zeros((num_classes + 1, 3), np.uint8)
    for i in range(num_classes + 1):
        label, j = i, 0
        while label:
            for c in range(3):
                colors[i, c] |= ((label >> c) & 1) << (7 - j)
            label >>= 3
            j += 1
    return colors[1:]


def palette(custom_color=None):
    """The 256 colours of predicted class ids: PaddleSeg's `color_map`, the first ones replaced by
    `custom_color` (predict's --custom_color: a flat list of RGB triplets, integers in 0..255).

    Raises:
        UserError: `custom_color` is not whole triplets of integers in 0..255.
    """
    colors = color_map(256)
    if not custom_color:
        return colors
    name = "custom_color (--custom_color)"
    if len(custom_color) % 3 or len(custom_color) > colors.size:
        raise UserError("{} must be R G B triplets (a multiple of 3 values, at most 256 colours), got {} "
                        "values".format(name, len(custom_color)))
    for value in custom_color:
        if not is_int(value) or not 0 <= value <= 255:
            raise UserError("{} values must be integers in 0..255, got {!r}".format(name, value))
    colors[:len(custom_color) // 3] = np.asarray(custom_color, np.uint8).reshape(-1, 3)
    return colors


def colorize(pred, colors):
    """Map an HxW class map to HxWx3 RGB with `colors`; 255 (ignore) becomes black."""
    out = np.zeros(pred.shape + (3,), np.uint8)
    valid = pred < len(colors)
    out[valid] = colors[pred[valid]]
    return out


def denormalize(img_chw):
    """A CHW float image (any normalization) rescaled to HWC uint8 RGB for display."""
    img = np.asarray(img_chw, np.float32).transpose(1, 2, 0)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    lo, hi = img.min(), img.max()
    return ((img - lo) / max(hi - lo, 1e-6) * 255).astype(np.uint8)[:, :, :3]


def panel(img_chw, label, pred, num_classes):
    """input | ground truth | prediction side by side, HxWx3 uint8 (label/pred at the image size)."""
    colors = color_map(num_classes_of(num_classes))
    return np.concatenate([denormalize(img_chw), colorize(label, colors), colorize(pred, colors)], axis=1)


class VisualWriter:
    """A thin wrapper over visualdl.LogWriter that does nothing when disabled.

    Args:
        logdir (str | None): VisualDL log dir (save_dir); None disables logging.
    """

    def __init__(self, logdir):
        self._writer = None
        if logdir:
            from visualdl import LogWriter  # only when logging: it pulls in a web stack (~1 s)
            self._writer = LogWriter(logdir)

    def scalars(self, values, step, prefix):
        if self._writer:
            for tag, value in values.items():
                self._writer.add_scalar("{}/{}".format(prefix, tag), float(value), step)

    def image(self, tag, img_hwc, step):
        if self._writer:
            self._writer.add_image(tag, img_hwc, step)

    def close(self):
        if self._writer:
            self._writer.close()
