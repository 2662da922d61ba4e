"""Procedural fundus-like vessel images: a dataset that needs no download.

Flow: `type: SyntheticVessels` in YAML builds it like any dataset (quickstart configs, tests,
benchmarks); `tools/make_synthetic_data.py` writes the same images to disk as a file-list dataset.
Each image is a reddish-orange disc (circular field of view) with uneven illumination, a bright
optic disc, low-frequency texture and noise, crossed by darker branching vessel trees that taper
along each branch. Sample `i` depends only on (seed, split, i), never on call order; train and
val/test draw from disjoint seed streams.
"""
import math

import cv2
import numpy as np

from paddleseg_lite.registry import DATASETS
from paddleseg_lite.datasets.dataset import Dataset
from paddleseg_lite.utils.validate import check_int, check_pair, is_int

_SPLIT_STREAM = {"train": 0, "val": 1, "test": 1}
_SUPERSAMPLE = 4
_MAX_DEPTH = 3


@DATASETS.add_component
class SyntheticVessels(Dataset):
    """Generated retinal-vessel images with 0/1 labels, 255 outside the FOV, and a `fov` field.

    Args:
        mode (str): 'train', 'val' or 'test' (test yields the val images).
        transforms (list, optional): Transform objects (wrapped in `Compose`).
        num_samples (int, optional): Number of images; default 24 for train, 6 for val/test.
        image_size (int|list): Side length, or (width, height); at least 16. Default 96.
        seed (int): Base seed (>= 0). Default 0.

    Returns (per item):
        dict as `Dataset`; `img_path` is a name such as 'synthetic_val_0003'.

    Shape:
        `img` (3, H, W) float32; `label`/`fov` (H, W) in train/test mode, (1, H, W) in val mode.
    """
    NUM_CLASSES = 2
    IGNORE_INDEX = 255
    IMG_CHANNELS = 3

    def __init__(self, mode="train", transforms=None, num_samples=None, image_size=96, seed=0):
        self._setup(mode, transforms, self.NUM_CLASSES, self.IGNORE_INDEX, self.IMG_CHANNELS)
        if num_samples is None:
            num_samples = 24 if mode == "train" else 6
        self.num_samples = check_int("SyntheticVessels", "num_samples", num_samples, 1)
        self.seed = check_int("SyntheticVessels", "seed", seed, 0)
        size = (image_size, image_size) if is_int(image_size) else image_size
        self.image_size = check_pair("SyntheticVessels", "image_size", size, low=16)

    def __len__(self):
        return self.num_samples

    def load_raw(self, idx):
        """Sample `idx` before transforms: see `Dataset.load_raw`."""
        if not 0 <= idx < self.num_samples:
            raise IndexError("SyntheticVessels: index {} out of range 0..{}".format(idx, self.num_samples - 1))
        img, vessels, fov = self.generate(idx)
        label = vessels.astype(np.int64)
        label[fov == 0] = self.IGNORE_INDEX
        name = "synthetic_{}_{:04d}".format(self.mode, idx)
        return img.astype(np.float32), label, fov, name

    def generate(self, idx):
        """Make sample `idx`: (RGB HWC uint8 image, HW uint8 0/1 vessels inside the FOV, HW uint8 FOV)."""
        rng = np.random.default_rng([self.seed, _SPLIT_STREAM[self.mode], idx])
        return generate_fundus(rng, self.image_size)


def generate_fundus(rng, size):
    """Draw one fundus-like image of `size` (w, h) from `rng`; see `SyntheticVessels.generate`."""
    w, h = size
    cx, cy = w / 2 + rng.uniform(-0.03, 0.03) * w, h / 2 + rng.uniform(-0.03, 0.03) * h
    radius = 0.47 * min(w, h)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.hypot(xx - cx, yy - cy) / radius
    fov = (dist <= 1.0).astype(np.uint8)
    angle = rng.uniform(0, 2 * math.pi)
    disc = (cx + 0.55 * radius * math.cos(angle), cy + 0.55 * radius * math.sin(angle))
    coverage = _draw_vessels(rng, size, (cx, cy), radius, disc)
    vessels = ((coverage >= 0.5) & (fov == 1)).astype(np.uint8)
    img = _paint(rng, xx, yy, dist, fov, radius, disc, coverage)
    return img, vessels, fov


def _draw_vessels(rng, size, center, radius, disc):
    """Vessel coverage (HW float32 in [0, 1]) from trees drawn at 4x resolution."""
    s = _SUPERSAMPLE
    canvas = np.zeros((size[1] * s, size[0] * s), np.uint8)
    toward_center = math.atan2(center[1] - disc[1], center[0] - disc[0])
    trunk_width = rng.uniform(2.6, 3.4) * min(size) / 96
    n_trunks = int(rng.integers(4, 7))
    for k in range(n_trunks):
        spread = (k - (n_trunks - 1) / 2) * rng.uniform(0.55, 0.75)
        tree = _Tree(rng, canvas, center, radius)
        tree.grow(disc, toward_center + spread, trunk_width * rng.uniform(0.8, 1.1), 0)
    return cv2.resize(canvas.astype(np.float32), size, interpolation=cv2.INTER_AREA)


class _Tree:
    """Draws one branching vessel tree on a supersampled canvas (output-pixel coordinates)."""

    def __init__(self, rng, canvas, center, radius):
        self.rng, self.canvas, self.center, self.radius = rng, canvas, center, radius

    def grow(self, start, angle, width, depth):
        rng, step = self.rng, 0.045 * self.radius
        n_steps = max(3, int(rng.uniform(0.6, 1.0) * self.radius * 0.75 ** depth / step))
        point = start
        for i in range(n_steps):
            angle += rng.normal(0.0, 0.18)
            nxt = (point[0] + step * math.cos(angle), point[1] + step * math.sin(angle))
            if math.hypot(nxt[0] - self.center[0], nxt[1] - self.center[1]) > 1.02 * self.radius:
                return
            here = width * (1.0 - 0.45 * i / n_steps)
            self._line(point, nxt, here)
            if depth < _MAX_DEPTH and rng.random() < 0.16 - 0.03 * depth:
                side = 1 if rng.random() < 0.5 else -1
                child = here * rng.uniform(0.55, 0.8)
                self.grow(nxt, angle + side * rng.uniform(0.45, 1.0), max(child, 0.9), depth + 1)
            point = nxt

    def _line(self, p, q, width):
        s = _SUPERSAMPLE
        a = (int(round(p[0] * s)), int(round(p[1] * s)))
        b = (int(round(q[0] * s)), int(round(q[1] * s)))
        cv2.line(self.canvas, a, b, 1, max(1, int(round(width * s))), cv2.LINE_8)


def _paint(rng, xx, yy, dist, fov, radius, disc, coverage):
    """Background colour, illumination, optic disc, darker vessels and spots, texture, noise -> uint8 RGB."""
    h, w = dist.shape
    base = np.array([rng.uniform(170, 215), rng.uniform(70, 100), rng.uniform(25, 45)], np.float32)
    tilt = rng.uniform(0, 2 * math.pi)
    gradient = rng.uniform(0.12, 0.28) * ((xx - w / 2) * math.cos(tilt) + (yy - h / 2) * math.sin(tilt)) / radius
    illumination = (1.0 + gradient) * (1.0 - 0.35 * np.clip(dist, 0, 1) ** 2)
    texture = cv2.resize(rng.normal(0, 0.08, (6, 6)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    img = base * (illumination + texture)[..., None]
    disc_glow = np.exp(-((xx - disc[0]) ** 2 + (yy - disc[1]) ** 2) / (2 * (0.09 * radius) ** 2))
    img += np.array([55, 60, 35], np.float32) * disc_glow[..., None]
    contrast = rng.uniform(0.22, 0.38)
    img *= 1.0 - contrast * coverage[..., None] * np.array([0.75, 1.0, 0.9], np.float32)
    img *= 1.0 - 0.3 * _spots(rng, xx, yy, dist)[..., None]
    img += rng.normal(0, rng.uniform(5, 10), img.shape)
    img = cv2.GaussianBlur(img.astype(np.float32), (3, 3), 0.6)
    img *= fov[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _spots(rng, xx, yy, dist):
    """A few small dark blobs (unlabelled distractors, like haemorrhages), HW float32 in [0, 1]."""
    spots = np.zeros(dist.shape, np.float32)
    radius = max(dist.shape) / 96
    for _ in range(int(rng.integers(2, 6))):
        x, y = rng.uniform(0, dist.shape[1]), rng.uniform(0, dist.shape[0])
        size = radius * rng.uniform(0.8, 1.8)
        spots = np.maximum(spots, np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * size ** 2)))
    return spots
