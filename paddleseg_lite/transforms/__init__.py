"""Data transforms: `Compose` and the registered ops that YAML `transforms:` lists name."""
from .transforms import (CLAHE, Compose, GreenChannel, Normalize, Padding, RandomDistort,
                         RandomElasticDeformation, RandomHorizontalFlip, RandomPaddingCrop,
                         RandomRotation, RandomVerticalFlip, Resize, ResizeByLong, ResizeByShort,
                         ResizeStepScaling)

__all__ = [
    "Compose", "Resize", "ResizeByLong", "ResizeByShort", "ResizeStepScaling", "Padding",
    "RandomPaddingCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation",
    "RandomElasticDeformation", "RandomDistort", "Normalize", "GreenChannel", "CLAHE",
]
