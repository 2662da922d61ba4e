"""Registered transforms: the ops a YAML `transforms:` list names (`type: RandomPaddingCrop`).

Datasets build a `Compose` of these ops and call it on a sample dict
(`img`, `label`, `fov`, `gt_fields`, `trans_info`; see docs/DESIGN.md). Every op
takes the dict and returns a new dict; every array it changes is a new array,
so inputs are never modified in place. Geometric ops move `img` and every key in `gt_fields`
together (NEAREST for the gt_fields; padding fills `label` with
`label_padding_value` and other gt_fields such as `fov` with 0). Random draws
use Python `random` and `np.random` where PaddleSeg does, so seeding both makes
a chain deterministic. The pixel work lives in `functional.py`.
"""
import math
import random

import cv2
import numpy as np

from paddleseg_lite.registry import TRANSFORMS
from paddleseg_lite.transforms import functional as F
from paddleseg_lite.transforms import io
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.validate import check_choice, check_int, check_number, check_pair, check_prob, is_int

# NEAREST is OpenCV's pixel-centre-aligned INTER_NEAREST_EXACT (PaddleSeg uses INTER_NEAREST, whose
# floor(x * scale) sampling shifts labels up to half a pixel against a LINEAR-resized image).
INTERP = {
    "NEAREST": cv2.INTER_NEAREST_EXACT,
    "LINEAR": cv2.INTER_LINEAR,
    "CUBIC": cv2.INTER_CUBIC,
    "AREA": cv2.INTER_AREA,
    "LANCZOS4": cv2.INTER_LANCZOS4,
}


# ----------------------------------------------------------------------------- sample dict helpers

def _gt_fields(data):
    return list(data.get("gt_fields", []))


def _fill_for(key, label_padding_value):
    """Padding value of a gt_field: `label_padding_value` for 'label', 0 for masks such as 'fov'."""
    return label_padding_value if key == "label" else 0


def _with_info(data, op):
    """Copy of `data` with (op, (h, w)) of the current image appended to a new trans_info list."""
    out = dict(data)
    h, w = data["img"].shape[:2]
    out["trans_info"] = list(data.get("trans_info", [])) + [(op, (int(h), int(w)))]
    return out


def _map_geometric(data, img_fn, field_fn):
    """New dict with img_fn(img) and field_fn(key, array) applied to every gt_field."""
    out = dict(data)
    out["img"] = img_fn(data["img"])
    for key in _gt_fields(data):
        out[key] = field_fn(key, data[key])
    return out


def _resize_all(data, size, interp):
    return _map_geometric(data, lambda img: F.resize(img, size, interp),
                          lambda key, arr: F.resize(arr, size, INTERP["NEAREST"]))


def _pad_all(data, pad_h, pad_w, im_value, label_value):
    return _map_geometric(data, lambda img: F.pad(img, pad_h, pad_w, im_value),
                          lambda key, arr: F.pad(arr, pad_h, pad_w, _fill_for(key, label_value)))


# ----------------------------------------------------------------------------- Compose

class Compose:
    """Read a sample's files, run the ops in order and return model-ready arrays.

    Not itself registered: datasets wrap their `transforms:` list in it.

    A path `img` is read with OpenCV (grayscale for 1 channel) as float32 and
    converted BGR -> RGB when `to_rgb`; an array `img` is taken as RGB already.
    A path `label` (or any path gt_field) is read as stored class ids (palette
    PNGs give their indices); a path `fov` is binarised to 0/1.

    Args:
        transforms (list): The ops, applied in order.
        to_rgb (bool): Convert images read from files from BGR to RGB. Default: True.
        img_channels (int): 1 or 3; images read from files get this many channels. Default: 3.

    Returns (of __call__):
        dict: `img` (C, H, W) float32; `label` (H, W) int64; `fov` (H, W) uint8;
        other gt_fields int64; `trans_info` a new list.
    """

    def __init__(self, transforms, to_rgb=True, img_channels=3):
        if not isinstance(transforms, (list, tuple)):
            raise TypeError("Compose: transforms must be a list of transforms, got {}.".format(
                type(transforms).__name__))
        for i, op in enumerate(transforms):
            if not callable(op):
                raise TypeError("Compose: transforms[{}] is a {}, not a transform; give each item a "
                                "`type:` key.".format(i, type(op).__name__))
        check_choice("Compose", "img_channels", img_channels, (1, 3))
        self.transforms = list(transforms)
        self.to_rgb = bool(to_rgb)
        self.img_channels = img_channels

    def __call__(self, data):
        data = self._load(data)
        for op in self.transforms:
            data = op(data)
        return self._finish(data)

    def _load(self, data):
        if "img" not in data:
            raise ValueError("Compose: the sample dict has no 'img' key.")
        out = dict(data)
        out["trans_info"] = list(data.get("trans_info", []))
        out["gt_fields"] = _gt_fields(data)
        out["img"] = self._load_img(data["img"])
        for key in self._field_keys(out):
            out[key] = self._load_field(key, data[key], data["img"], out["img"].shape[:2])
        return out

    def _load_img(self, img):
        if isinstance(img, str):
            return io.read_image(img, self.img_channels, self.to_rgb)
        if not isinstance(img, np.ndarray):
            raise TypeError("Compose: 'img' must be a file path or a numpy array, got {}.".format(
                type(img).__name__))
        arr = img[:, :, np.newaxis] if img.ndim == 2 else img
        if arr.ndim != 3 or arr.shape[2] != self.img_channels:
            raise ValueError("Compose: the input image array has shape {} but img_channels is {}; "
                             "pass an HxWx{} array or set img_channels.".format(
                                 img.shape, self.img_channels, self.img_channels))
        return arr.astype(np.float32)

    @staticmethod
    def _field_keys(data):
        keys = list(data["gt_fields"])
        if data.get("label") is not None and "label" not in keys:
            keys.append("label")
        for key in keys:
            if data.get(key) is None:
                raise ValueError("Compose: gt_fields names '{}' but the sample has no '{}'.".format(key, key))
        return keys

    @staticmethod
    def _load_field(key, value, img_source, img_hw):
        if isinstance(value, str):
            arr = io.read_gt(key, value)
        elif isinstance(value, np.ndarray):
            arr = value[:, :, 0] if value.ndim == 3 and value.shape[2] == 1 else value
            if arr.ndim != 2:
                raise ValueError("Compose: '{}' must be an HxW array, got shape {}.".format(key, value.shape))
        else:
            raise TypeError("Compose: '{}' must be a file path or a numpy array, got {}.".format(
                key, type(value).__name__))
        io.check_same_size(key, value, arr, img_source, img_hw)
        return arr

    @staticmethod
    def _finish(data):
        out = dict(data)
        img = data["img"][:, :, np.newaxis] if data["img"].ndim == 2 else data["img"]
        out["img"] = np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)
        for key in Compose._field_keys(data):
            dtype = np.uint8 if key == "fov" else np.int64
            out[key] = np.array(data[key], dtype=dtype)  # always a copy: never the caller's array
        return out


# ----------------------------------------------------------------------------- resizing

@TRANSFORMS.add_component
class Resize:
    """Resize to a fixed size (records ('resize', (h, w)) in trans_info first).

    Args:
        target_size (list): [width, height]. Default: (512, 512).
        keep_ratio (bool): Fit inside target_size keeping the aspect ratio. Default: False.
        size_divisor (int|None): Round each side up to a multiple of this. Default: None.
        interp (str): NEAREST, LINEAR, CUBIC, AREA, LANCZOS4, or RANDOM (one of those drawn
            with `random.choice` per call). gt_fields always use NEAREST. Default: LINEAR.
    """

    def __init__(self, target_size=(512, 512), keep_ratio=False, size_divisor=None, interp="LINEAR"):
        self.target_size = check_pair("Resize", "target_size", target_size)
        check_choice("Resize", "interp", interp, list(INTERP) + ["RANDOM"])
        if size_divisor is not None:
            size_divisor = check_int("Resize", "size_divisor", size_divisor, 1)
        self.keep_ratio = bool(keep_ratio)
        self.size_divisor = size_divisor
        self.interp = interp

    def __call__(self, data):
        out = _with_info(data, "resize")
        interp = random.choice(list(INTERP)) if self.interp == "RANDOM" else self.interp
        size = self.target_size
        if self.keep_ratio:
            h, w = data["img"].shape[:2]
            size, _ = F.rescale_size((w, h), self.target_size)
        if self.size_divisor:
            size = [math.ceil(side / self.size_divisor) * self.size_divisor for side in size]
        return _resize_all(out, size, INTERP[interp])


@TRANSFORMS.add_component
class ResizeByLong:
    """Resize so the longer side is `long_size` (records ('resize', (h, w)) first).

    Args:
        long_size (int): Target length of the longer side.
    """

    def __init__(self, long_size):
        self.long_size = check_int("ResizeByLong", "long_size", long_size, 1)

    def __call__(self, data):
        out = _with_info(data, "resize")
        return _map_geometric(out, lambda img: F.resize_long(img, self.long_size),
                              lambda key, arr: F.resize_long(arr, self.long_size, INTERP["NEAREST"]))


@TRANSFORMS.add_component
class ResizeByShort:
    """Resize so the shorter side is `short_size`, capping the longer side at `max_size`.

    Records ('resize', (h, w)) in trans_info first.

    Args:
        short_size (int): Target length of the shorter side.
        max_size (float): Upper bound of the longer side. Default: 1e10 (no cap).
    """

    def __init__(self, short_size, max_size=1e10):
        self.short_size = check_int("ResizeByShort", "short_size", short_size, 1)
        self.max_size = check_number("ResizeByShort", "max_size", max_size, 0, low_open=True)

    def __call__(self, data):
        out = _with_info(data, "resize")
        return _map_geometric(
            out, lambda img: F.resize_short(img, self.short_size, self.max_size),
            lambda key, arr: F.resize_short(arr, self.short_size, self.max_size, INTERP["NEAREST"]))


@TRANSFORMS.add_component
class ResizeStepScaling:
    """Rescale by a random factor (LINEAR for img, NEAREST for gt_fields; no trans_info).

    The factor is min when min == max; uniform(min, max) when the step is 0;
    otherwise one of linspace(min, max, steps) picked with `np.random.shuffle`.

    Args:
        min_scale_factor (float): Smallest factor (> 0). Default: 0.75.
        max_scale_factor (float): Largest factor (>= min). Default: 1.25.
        scale_step_size (float): Spacing of the candidate factors (>= 0). Default: 0.25.
    """

    def __init__(self, min_scale_factor=0.75, max_scale_factor=1.25, scale_step_size=0.25):
        name = "ResizeStepScaling"
        self.min_scale_factor = check_number(name, "min_scale_factor", min_scale_factor, 0, low_open=True)
        self.max_scale_factor = check_number(name, "max_scale_factor", max_scale_factor, 0, low_open=True)
        self.scale_step_size = check_number(name, "scale_step_size", scale_step_size, 0)
        if self.min_scale_factor > self.max_scale_factor:
            raise ValueError("{}: min_scale_factor ({}) must not exceed max_scale_factor ({}).".format(
                name, min_scale_factor, max_scale_factor))

    def _draw_factor(self):
        low, high, step = self.min_scale_factor, self.max_scale_factor, self.scale_step_size
        if low == high:
            return low
        if step == 0:
            return np.random.uniform(low, high)
        # The small epsilon keeps e.g. (1.0 - 0.5) / 0.1 + 1 from truncating to 5 steps.
        factors = np.linspace(low, high, int((high - low) / step + 1 + 1e-6)).tolist()
        np.random.shuffle(factors)
        return factors[0]

    def __call__(self, data):
        factor = self._draw_factor()
        h, w = data["img"].shape[:2]
        size = (max(1, int(round(factor * w))), max(1, int(round(factor * h))))
        return _resize_all(data, size, cv2.INTER_LINEAR)


# ----------------------------------------------------------------------------- padding and cropping

@TRANSFORMS.add_component
class Padding:
    """Pad bottom/right up to a fixed size (records ('padding', (h, w)) first).

    Args:
        target_size (int|list): [width, height], or one int for a square.
        im_padding_value (float): Image fill. Default: 127.5.
        label_padding_value (int): `label` fill (other gt_fields get 0). Default: 255.
    """

    def __init__(self, target_size, im_padding_value=127.5, label_padding_value=255):
        if is_int(target_size):
            target_size = (target_size, target_size)
        self.target_size = check_pair("Padding", "target_size", target_size)
        self.im_padding_value = check_number("Padding", "im_padding_value", im_padding_value)
        self.label_padding_value = check_number("Padding", "label_padding_value", label_padding_value)

    def __call__(self, data):
        h, w = data["img"].shape[:2]
        target_w, target_h = self.target_size
        if h > target_h or w > target_w:
            raise UserError("Padding: the image is {}x{} (HxW), larger than target_size [{}, {}] "
                            "([width, height]); raise target_size or resize first.".format(
                                h, w, target_w, target_h))
        out = _with_info(data, "padding")
        return _pad_all(out, target_h - h, target_w - w, self.im_padding_value, self.label_padding_value)


@TRANSFORMS.add_component
class RandomPaddingCrop:
    """Pad (bottom/right) up to crop_size if smaller, then crop a random window.

    Offsets are drawn with `np.random.randint` (height first). With
    category_max_ratio < 1 up to `loop_times` windows are tried until the
    window's `label` has 2+ non-ignored classes and none covers a share
    >= category_max_ratio (the last try is kept otherwise).

    Args:
        crop_size (list): [width, height]. Default: (512, 512).
        im_padding_value (float): Image fill. Default: 127.5.
        label_padding_value (int): `label` fill (other gt_fields get 0). Default: 255.
        category_max_ratio (float): In (0, 1]; 1 disables the class-balance retry. Default: 1.0.
        ignore_index (int): Label value left out of the class shares. Default: 255.
        loop_times (int): Tries for the class-balance retry. Default: 10.
    """

    def __init__(self, crop_size=(512, 512), im_padding_value=127.5, label_padding_value=255,
                 category_max_ratio=1.0, ignore_index=255, loop_times=10):
        name = "RandomPaddingCrop"
        self.crop_size = check_pair(name, "crop_size", crop_size)
        self.im_padding_value = check_number(name, "im_padding_value", im_padding_value)
        self.label_padding_value = check_number(name, "label_padding_value", label_padding_value)
        self.category_max_ratio = check_number(name, "category_max_ratio", category_max_ratio, 0, 1.0,
                                                low_open=True)
        self.ignore_index = check_int(name, "ignore_index", ignore_index)
        self.loop_times = check_int(name, "loop_times", loop_times, 1)

    def __call__(self, data):
        crop_w, crop_h = self.crop_size
        h, w = data["img"].shape[:2]
        if (h, w) == (crop_h, crop_w):
            return dict(data)
        pad_h, pad_w = max(crop_h - h, 0), max(crop_w - w, 0)
        if pad_h > 0 or pad_w > 0:
            data = _pad_all(data, pad_h, pad_w, self.im_padding_value, self.label_padding_value)
        top, left = self._draw_offsets(data)
        return _map_geometric(data, lambda img: F.crop(img, top, left, crop_h, crop_w),
                              lambda key, arr: F.crop(arr, top, left, crop_h, crop_w))

    def _draw_offsets(self, data):
        crop_w, crop_h = self.crop_size
        h, w = data["img"].shape[:2]
        balance = self.category_max_ratio < 1.0 and "label" in _gt_fields(data)
        for _ in range(self.loop_times if balance else 1):
            top = np.random.randint(h - crop_h + 1)
            left = np.random.randint(w - crop_w + 1)
            if balance and self._balanced(data["label"][top:top + crop_h, left:left + crop_w]):
                break
        return top, left

    def _balanced(self, label_crop):
        values, counts = np.unique(label_crop, return_counts=True)
        counts = counts[values != self.ignore_index]
        return len(counts) > 1 and counts.max() / counts.sum() < self.category_max_ratio


# ----------------------------------------------------------------------------- flips, rotation, elastic

class _RandomFlip:
    """Apply `flip` to the image and every gt_field when `random.random() < prob`."""

    flip = None

    def __init__(self, prob):
        self.prob = check_prob(type(self).__name__, "prob", prob)

    def __call__(self, data):
        if random.random() < self.prob:
            return _map_geometric(data, self.flip, lambda key, arr: self.flip(arr))
        return dict(data)


@TRANSFORMS.add_component
class RandomHorizontalFlip(_RandomFlip):
    """Mirror left-right when `random.random() < prob`.

    Args:
        prob (float): Probability in [0, 1]. Default: 0.5.
    """

    flip = staticmethod(F.horizontal_flip)

    def __init__(self, prob=0.5):
        super().__init__(prob)


@TRANSFORMS.add_component
class RandomVerticalFlip(_RandomFlip):
    """Mirror top-bottom when `random.random() < prob`.

    Args:
        prob (float): Probability in [0, 1]. Default: 0.1.
    """

    flip = staticmethod(F.vertical_flip)

    def __init__(self, prob=0.1):
        super().__init__(prob)


@TRANSFORMS.add_component
class RandomRotation:
    """Rotate by uniform(-max_rotation, max_rotation) degrees onto a canvas that holds the whole image.

    Args:
        max_rotation (float): Largest angle in degrees (>= 0; 0 disables). Default: 15.
        im_padding_value (float): Image fill outside the rotated image. Default: 127.5.
        label_padding_value (int): `label` fill (other gt_fields get 0). Default: 255.
    """

    def __init__(self, max_rotation=15, im_padding_value=127.5, label_padding_value=255):
        name = "RandomRotation"
        self.max_rotation = check_number(name, "max_rotation", max_rotation, 0)
        self.im_padding_value = check_number(name, "im_padding_value", im_padding_value)
        self.label_padding_value = check_number(name, "label_padding_value", label_padding_value)

    def __call__(self, data):
        if self.max_rotation <= 0:
            return dict(data)
        angle = np.random.uniform(-self.max_rotation, self.max_rotation)
        h, w = data["img"].shape[:2]
        matrix, size = F.rotation_matrix(h, w, angle)
        return _map_geometric(
            data,
            lambda img: F.warp_affine(img, matrix, size, cv2.INTER_LINEAR, self.im_padding_value),
            lambda key, arr: F.warp_affine(arr, matrix, size, cv2.INTER_NEAREST,
                                           _fill_for(key, self.label_padding_value)))


@TRANSFORMS.add_component
class RandomElasticDeformation:
    """The U-Net paper's elastic deformation (not in PaddleSeg).

    With probability `prob`, x/y displacements drawn from N(0, sigma) pixels on
    a coarse grid_size x grid_size grid (`np.random.normal`) are upsampled
    bicubically to every pixel; the same field warps img (LINEAR) and every
    gt_field (NEAREST). Pixels sampled from outside the image get the padding
    values, so `label` there is ignored (255) and `fov` is 0.

    Args:
        sigma (float): Displacement standard deviation in pixels (>= 0). Default: 10.
        grid_size (int): Coarse grid points per side (>= 2). Default: 3.
        prob (float): Probability of deforming. Default: 0.5.
        im_padding_value (float): Image fill. Default: 127.5.
        label_padding_value (int): `label` fill (other gt_fields get 0). Default: 255.
    """

    def __init__(self, sigma=10.0, grid_size=3, prob=0.5, im_padding_value=127.5, label_padding_value=255):
        name = "RandomElasticDeformation"
        self.sigma = check_number(name, "sigma", sigma, 0)
        self.grid_size = check_int(name, "grid_size", grid_size, 2)
        self.prob = check_prob(name, "prob", prob)
        self.im_padding_value = check_number(name, "im_padding_value", im_padding_value)
        self.label_padding_value = check_number(name, "label_padding_value", label_padding_value)

    def __call__(self, data):
        if np.random.uniform() >= self.prob:
            return dict(data)
        displacements = np.random.normal(0.0, self.sigma, (2, self.grid_size, self.grid_size))
        h, w = data["img"].shape[:2]
        map_x, map_y = F.elastic_maps(h, w, displacements)
        return _map_geometric(
            data,
            lambda img: F.remap(img, map_x, map_y, cv2.INTER_LINEAR, self.im_padding_value),
            lambda key, arr: F.remap(arr, map_x, map_y, cv2.INTER_NEAREST,
                                     _fill_for(key, self.label_padding_value)))


# ----------------------------------------------------------------------------- photometric

@TRANSFORMS.add_component
class RandomDistort:
    """PaddleSeg's colour jitter with PIL ImageEnhance semantics, in numpy.

    The op order [brightness, contrast, saturation, sharpness, hue (3 channels
    only)] is shuffled with `random.shuffle`; each op runs when
    `np.random.uniform() < its prob`, then draws its factor from
    uniform(1 - range, 1 + range) (hue: a shift in uniform(-range, range) on
    PIL's 0..255 hue scale). The image is rounded and clipped to uint8 first
    (PaddleSeg wraps out-of-range values instead); the result is float32 with
    integer values in [0, 255].

    Args:
        brightness_range (float): Brightness factor spread (>= 0). Default: 0.5.
        brightness_prob (float): Brightness probability. Default: 0.5.
        contrast_range (float): Contrast factor spread. Default: 0.5.
        contrast_prob (float): Contrast probability. Default: 0.5.
        saturation_range (float): Saturation factor spread. Default: 0.5.
        saturation_prob (float): Saturation probability. Default: 0.5.
        hue_range (float): Largest hue shift on the 0..255 scale. Default: 18.
        hue_prob (float): Hue probability. Default: 0.5.
        sharpness_range (float): Sharpness factor spread. Default: 0.5.
        sharpness_prob (float): Sharpness probability. Default: 0.
    """

    _ORDER = ("brightness", "contrast", "saturation", "sharpness", "hue")
    _FUNCS = {
        "brightness": F.adjust_brightness,
        "contrast": F.adjust_contrast,
        "saturation": F.adjust_saturation,
        "sharpness": F.adjust_sharpness,
        "hue": F.adjust_hue,
    }

    def __init__(self, brightness_range=0.5, brightness_prob=0.5, contrast_range=0.5, contrast_prob=0.5,
                 saturation_range=0.5, saturation_prob=0.5, hue_range=18, hue_prob=0.5,
                 sharpness_range=0.5, sharpness_prob=0):
        given = dict(brightness=(brightness_range, brightness_prob), contrast=(contrast_range, contrast_prob),
                     saturation=(saturation_range, saturation_prob), sharpness=(sharpness_range, sharpness_prob),
                     hue=(hue_range, hue_prob))
        self.ranges, self.probs = {}, {}
        for op, (value_range, prob) in given.items():
            self.ranges[op] = check_number("RandomDistort", op + "_range", value_range, 0)
            self.probs[op] = check_prob("RandomDistort", op + "_prob", prob)

    def __call__(self, data):
        img = F.to_uint8(data["img"])
        ops = list(self._ORDER if img.ndim == 3 and img.shape[2] == 3 else self._ORDER[:4])
        random.shuffle(ops)
        work = img if img.ndim == 3 else img[:, :, np.newaxis]
        for op in ops:
            if np.random.uniform(0, 1) < self.probs[op]:
                work = self._FUNCS[op](work, self._draw(op))
        out = dict(data)
        out["img"] = work.reshape(img.shape).astype(np.float32)
        return out

    def _draw(self, op):
        r = self.ranges[op]
        return np.random.uniform(-r, r) if op == "hue" else np.random.uniform(1 - r, 1 + r)


@TRANSFORMS.add_component
class Normalize:
    """img = (img / 255 - mean) / std, as float32 (the defaults map [0, 255] to [-1, 1]).

    Args:
        mean (float|list): One value for all channels or one per channel. Default: (0.5,).
        std (float|list): Same; no value may be 0. Default: (0.5,).
    """

    def __init__(self, mean=(0.5,), std=(0.5,)):
        self.mean = self._as_vector("mean", mean)
        self.std = self._as_vector("std", std)
        if np.any(self.std == 0):
            raise ValueError("Normalize: std must not contain 0, got {!r}.".format(std))

    @staticmethod
    def _as_vector(name, value):
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if not values:
            raise ValueError("Normalize: {} must not be empty.".format(name))
        for item in values:
            check_number("Normalize", name, item)
        return np.asarray(values, np.float32)

    def __call__(self, data):
        img = data["img"]
        channels = 1 if img.ndim == 2 else img.shape[2]
        for name, vec in (("mean", self.mean), ("std", self.std)):
            if len(vec) not in (1, channels):
                raise UserError("Normalize: {} has {} values but the image has {} channels; give 1 or "
                                "{} values.".format(name, len(vec), channels, channels))
        out = dict(data)
        out["img"] = F.normalize(img, self.mean, self.std)
        return out


@TRANSFORMS.add_component
class GreenChannel:
    """Keep only the green channel of a fundus image, replicated to 3 channels.

    Vessels contrast best in green. The output stays 3-channel (G, G, G) so a
    model with in_channels 3 and `Normalize` work unchanged. Needs a 3-channel
    image (RGB or BGR: green is the middle channel either way).
    """

    def __call__(self, data):
        img = data["img"]
        if img.ndim != 3 or img.shape[2] != 3:
            raise UserError("GreenChannel: needs a 3-channel image, got shape {}; remove it or set "
                            "img_channels: 3.".format(img.shape))
        out = dict(data)
        out["img"] = np.repeat(img[:, :, 1:2], 3, axis=2)
        return out


@TRANSFORMS.add_component
class CLAHE:
    """Contrast-limited adaptive histogram equalisation (OpenCV), e.g. for fundus images.

    A 1-channel image is equalised directly; a 3-channel one on the L channel
    of CIE Lab, so hues are kept (a gray image, e.g. after GreenChannel, stays
    gray). Deterministic: put it in both the train and val transforms.
    The result is float32 with integer values in [0, 255].

    Args:
        clip_limit (float): Contrast limit (> 0). Default: 2.0.
        tile_grid_size (int): Tiles per side. Default: 8.
    """

    def __init__(self, clip_limit=2.0, tile_grid_size=8):
        self.clip_limit = check_number("CLAHE", "clip_limit", clip_limit, 0, low_open=True)
        self.tile_grid_size = check_int("CLAHE", "tile_grid_size", tile_grid_size, 1)

    def __call__(self, data):
        img = F.to_uint8(data["img"])
        work = img if img.ndim == 3 else img[:, :, np.newaxis]
        if work.shape[2] not in (1, 3):
            raise UserError("CLAHE: needs a 1- or 3-channel image, got shape {}.".format(img.shape))
        out = dict(data)
        equalised = F.clahe(work, self.clip_limit, self.tile_grid_size)
        out["img"] = equalised.reshape(img.shape).astype(np.float32)
        return out
