"""Registered ops that change the image size: Resize, ResizeByLong/Short, ResizeStepScaling, Padding,
RandomPaddingCrop (PaddleSeg's semantics and random draws; size changes recorded in `trans_info`)."""
import math
import random

import cv2
import numpy as np

from paddleseg_lite.registry import TRANSFORMS
from paddleseg_lite.transforms import functional as F
from paddleseg_lite.transforms.sample import gt_fields, INTERP, map_geometric, pad_all, resize_all, with_info
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.validate import check_choice, check_int, check_number, check_pair, is_int


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
        out = with_info(data, "resize")
        interp = random.choice(list(INTERP)) if self.interp == "RANDOM" else self.interp
        size = self.target_size
        if self.keep_ratio:
            h, w = data["img"].shape[:2]
            size, _ = F.rescale_size((w, h), self.target_size)
        if self.size_divisor:
            size = [math.ceil(side / self.size_divisor) * self.size_divisor for side in size]
        return resize_all(out, size, INTERP[interp])


@TRANSFORMS.add_component
class ResizeByLong:
    """Resize so the longer side is `long_size` (records ('resize', (h, w)) first).

    Args:
        long_size (int): Target length of the longer side.
    """

    def __init__(self, long_size):
        self.long_size = check_int("ResizeByLong", "long_size", long_size, 1)

    def __call__(self, data):
        out = with_info(data, "resize")
        return map_geometric(out, lambda img: F.resize_long(img, self.long_size),
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
        out = with_info(data, "resize")
        return map_geometric(
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
        return resize_all(data, size, cv2.INTER_LINEAR)


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
        out = with_info(data, "padding")
        return pad_all(out, target_h - h, target_w - w, self.im_padding_value, self.label_padding_value)


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
            data = pad_all(data, pad_h, pad_w, self.im_padding_value, self.label_padding_value)
        top, left = self._draw_offsets(data)
        return map_geometric(data, lambda img: F.crop(img, top, left, crop_h, crop_w),
                              lambda key, arr: F.crop(arr, top, left, crop_h, crop_w))

    def _draw_offsets(self, data):
        crop_w, crop_h = self.crop_size
        h, w = data["img"].shape[:2]
        balance = self.category_max_ratio < 1.0 and "label" in gt_fields(data)
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
