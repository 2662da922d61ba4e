"""Registered geometric augmentations: flips, rotations, elastic deformation (img and gt_fields together)."""
import random

import cv2
import numpy as np

from paddleseg_lite.registry import TRANSFORMS
from paddleseg_lite.transforms import functional as F
from paddleseg_lite.transforms.sample import fill_for, map_geometric
from paddleseg_lite.utils.validate import check_int, check_number, check_prob


class _RandomSymmetry:
    """Apply `symmetry` (an exact pixel permutation: a flip or a 90-degree rotation) to the image and every
    gt_field when `random.random() < prob`."""

    symmetry = None

    def __init__(self, prob):
        self.prob = check_prob(type(self).__name__, "prob", prob)

    def __call__(self, data):
        if random.random() < self.prob:
            return map_geometric(data, self.symmetry, lambda key, arr: self.symmetry(arr))
        return dict(data)


@TRANSFORMS.add_component
class RandomHorizontalFlip(_RandomSymmetry):
    """Mirror left-right when `random.random() < prob`.

    Args:
        prob (float): Probability in [0, 1]. Default: 0.5.
    """

    symmetry = staticmethod(F.horizontal_flip)

    def __init__(self, prob=0.5):
        super().__init__(prob)


@TRANSFORMS.add_component
class RandomVerticalFlip(_RandomSymmetry):
    """Mirror top-bottom when `random.random() < prob`.

    Args:
        prob (float): Probability in [0, 1]. Default: 0.1.
    """

    symmetry = staticmethod(F.vertical_flip)

    def __init__(self, prob=0.1):
        super().__init__(prob)


@TRANSFORMS.add_component
class RandomRotation90(_RandomSymmetry):
    """Rotate 90 degrees counter-clockwise when `random.random() < prob` (not in PaddleSeg).

    Exact: pixels move, none is interpolated, so 1-2 pixel wide structures keep their labels. With
    RandomHorizontalFlip and RandomVerticalFlip (each prob 0.5) and prob 0.5 here, every one of the 8
    symmetries of the square is equally likely. Height and width swap: batch square crops.

    Args:
        prob (float): Probability in [0, 1]. Default: 0.5.
    """

    symmetry = staticmethod(F.rotate90)

    def __init__(self, prob=0.5):
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
        return map_geometric(
            data,
            lambda img: F.warp_affine(img, matrix, size, cv2.INTER_LINEAR, self.im_padding_value),
            lambda key, arr: F.warp_affine(arr, matrix, size, cv2.INTER_NEAREST,
                                           fill_for(key, self.label_padding_value)))


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
        return map_geometric(
            data,
            lambda img: F.remap(img, map_x, map_y, cv2.INTER_LINEAR, self.im_padding_value),
            lambda key, arr: F.remap(arr, map_x, map_y, cv2.INTER_NEAREST,
                                     fill_for(key, self.label_padding_value)))


# ----------------------------------------------------------------------------- photometric
