"""Registered ops on pixel values only: RandomDistort (Pillow's ImageEnhance), RandomGamma, Normalize, GreenChannel,
CLAHE."""
import random

import numpy as np

from paddleseg_lite.registry import TRANSFORMS
from paddleseg_lite.transforms import functional as F
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.validate import check_int, check_number, check_prob


@TRANSFORMS.add_component
class RandomDistort:
    """PaddleSeg's colour jitter, with Pillow's ImageEnhance as PaddleSeg does (the same pixels).

    The op order [brightness, contrast, saturation, sharpness, hue (3 channels
    only)] is shuffled with `random.shuffle`; each op runs when
    `np.random.uniform() < its prob`, then draws its factor from
    uniform(1 - range, 1 + range) (hue: a shift in uniform(-range, range) on
    PIL's 0..255 hue scale). The image is rounded and clipped to uint8 first
    (PaddleSeg wraps out-of-range values instead); the result is float32 with
    integer values in [0, 255]. Images of 1, 3 or 4 channels (PIL's L, RGB, RGBA).

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
        channels = 1 if img.ndim == 2 else img.shape[2]
        if channels not in (1, 3, 4):
            raise UserError("RandomDistort: needs a 1-, 3- or 4-channel image (PIL's L, RGB, RGBA), got shape {}; "
                            "remove it from the transforms".format(img.shape))
        ops = list(self._ORDER if channels == 3 else self._ORDER[:4])
        random.shuffle(ops)
        image = F.to_pil(img)
        for op in ops:
            if np.random.uniform(0, 1) < self.probs[op]:
                factor = self._draw(op)
                image = F.shift_hue(image, factor) if op == "hue" else F.enhance(image, op, factor)
        out = dict(data)
        out["img"] = np.asarray(image).reshape(img.shape).astype(np.float32)
        return out

    def _draw(self, op):
        r = self.ranges[op]
        return np.random.uniform(-r, r) if op == "hue" else np.random.uniform(1 - r, 1 + r)


@TRANSFORMS.add_component
class RandomGamma:
    """Random gamma correction of [0, 255] images: img = 255 * (img / 255) ** gamma (nnU-Net's gamma augmentation).

    With probability `prob` a gamma is drawn: when `gamma_range` straddles 1, uniformly from [low, 1] or
    [1, high] with equal chance (so brightening and darkening are equally likely however asymmetric the
    range), else uniformly from [low, high]. Values are clipped to [0, 255] first; the result is float32.
    Put it before `Normalize`.

    Args:
        gamma_range (list[float]): [low, high], 0 < low <= high. Default: [0.7, 1.5] (nnU-Net's).
        prob (float): Probability of a correction. Default: 0.5.
    """

    def __init__(self, gamma_range=(0.7, 1.5), prob=0.5):
        if not isinstance(gamma_range, (list, tuple)) or len(gamma_range) != 2:
            raise ValueError("RandomGamma: gamma_range must be a list [low, high], got {!r}.".format(gamma_range))
        low, high = (check_number("RandomGamma", "gamma_range", g, 0, low_open=True) for g in gamma_range)
        if low > high:
            raise ValueError("RandomGamma: gamma_range [low, high] needs low <= high, got {!r}.".format(gamma_range))
        self.gamma_range = (low, high)
        self.prob = check_prob("RandomGamma", "prob", prob)

    def __call__(self, data):
        out = dict(data)
        if np.random.uniform(0, 1) >= self.prob:
            return out
        out["img"] = F.gamma_correct(data["img"], self._draw())
        return out

    def _draw(self):
        low, high = self.gamma_range
        if low < 1 < high:
            low, high = (low, 1.0) if np.random.uniform(0, 1) < 0.5 else (1.0, high)
        return np.random.uniform(low, high)


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
