"""Data transforms: `Compose` and the registered ops that YAML `transforms:` lists name.

Datasets build a `Compose` of these ops and call it on a sample dict (`img`, `label`, `fov`,
`gt_fields`, `trans_info`; see `sample.py` and docs/DESIGN.md). Every op takes the dict and returns a
new dict; every array it changes is a new array, so inputs are never modified in place. Random draws
use Python `random` and `np.random` where PaddleSeg does, so seeding both makes a chain deterministic.
The pixel work lives in `functional.py`, file reading in `io.py`.

    compose.py      Compose
    size.py         Resize, ResizeByLong, ResizeByShort, ResizeStepScaling, Padding, RandomPaddingCrop
    geometric.py    RandomHorizontalFlip, RandomVerticalFlip, RandomRotation90, RandomRotation,
                    RandomElasticDeformation
    photometric.py  RandomDistort, RandomGamma, Normalize, GreenChannel, CLAHE
"""
from paddleseg_lite.transforms.compose import Compose
from paddleseg_lite.transforms.geometric import (RandomElasticDeformation, RandomHorizontalFlip, RandomRotation,
                                                 RandomRotation90, RandomVerticalFlip)
from paddleseg_lite.transforms.photometric import CLAHE, GreenChannel, Normalize, RandomDistort, RandomGamma
from paddleseg_lite.transforms.size import (Padding, RandomPaddingCrop, Resize, ResizeByLong, ResizeByShort,
                                            ResizeStepScaling)

__all__ = [
    "Compose", "Resize", "ResizeByLong", "ResizeByShort", "ResizeStepScaling", "Padding",
    "RandomPaddingCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation90", "RandomRotation",
    "RandomElasticDeformation", "RandomDistort", "RandomGamma", "Normalize", "GreenChannel", "CLAHE",
]
