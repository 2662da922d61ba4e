"""Colour maps, blended overlays, error maps and VisualDL logging (scalars and image panels).

Binary (vessel) overlays paint the vessels in one bright colour, nearly opaque, and leave the background
as it is: PaddleSeg's palette blend (0.6 image + 0.4 colour everywhere) tints a red fundus with its
background colour (128, 0, 0) and leaves dark-green vessels barely visible. Multi-class overlays keep
PaddleSeg's blend.
"""
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


VESSEL_RGB = (0, 255, 0)
VESSEL_ALPHA = 0.85
# error map colours (RGB): true positive, false positive, false negative, true negative, not counted
ERROR_COLORS = {"TP": (255, 255, 255), "FP": (255, 0, 255), "FN": (0, 200, 255), "TN": (48, 48, 48),
                "outside FOV / ignored": (0, 0, 0)}


def overlay(image_rgb, pred, num_classes, colors=None):
    """The prediction drawn over its image (predict's `added_prediction`, the val report).

    Args:
        image_rgb (np.ndarray): HxWx3 uint8 RGB.
        pred (np.ndarray): HxW class ids.
        num_classes (int): classes of the model (1 or 2: binary).
        colors (np.ndarray, optional): palette (`palette(custom_color)`); default: VESSEL_RGB for a binary
            task, PaddleSeg's `color_map(256)` otherwise.

    Returns:
        np.ndarray: HxWx3 uint8 RGB. Binary: class-1 pixels are VESSEL_ALPHA * colour + (1 - VESSEL_ALPHA)
        * image, every other pixel is the image unchanged. Multi-class: 0.6 * image + 0.4 * colour everywhere.
    """
    image = np.asarray(image_rgb, np.float32)
    if num_classes_of(num_classes) == 2:
        color = np.asarray(VESSEL_RGB if colors is None else colors[1], np.float32)
        out = image.copy()
        vessel = pred == 1
        out[vessel] = VESSEL_ALPHA * color + (1 - VESSEL_ALPHA) * image[vessel]
    else:
        colors = color_map(256) if colors is None else colors
        out = 0.6 * image + 0.4 * colors[np.minimum(pred, len(colors) - 1)].astype(np.float32)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def probability_image(prob):
    """HxW uint8 of the foreground probability x 255 from CxHxW probabilities (class 1 of two; the highest
    class probability for more classes)."""
    fg = prob[1] if prob.shape[0] == 2 else prob.max(axis=0)
    return np.round(fg * 255).astype(np.uint8)


def error_map(pred, label, fov=None, ignore_index=255, fg_class=1):
    """TP / FP / FN / TN of `fg_class` (one-vs-rest, as the vessel metrics) in the ERROR_COLORS.

    Pixels outside `fov` (0) or labelled `ignore_index` are not counted and drawn as such.

    Returns:
        np.ndarray: HxWx3 uint8 RGB.
    """
    truth, predicted = label == fg_class, pred == fg_class
    kinds = {"TP": truth & predicted, "FP": ~truth & predicted, "FN": truth & ~predicted,
             "TN": ~truth & ~predicted}
    out = np.zeros(label.shape + (3,), np.uint8)
    for kind, where in kinds.items():
        out[where] = ERROR_COLORS[kind]
    counted = label != ignore_index
    if fov is not None:
        counted &= fov.astype(bool)
    out[~counted] = ERROR_COLORS["outside FOV / ignored"]
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
