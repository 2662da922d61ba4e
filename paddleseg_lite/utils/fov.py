"""The field of view (FOV) of a fundus photograph, estimated from the image alone.

Flow: `datasets/fov.FovSource` calls `estimate_fov` for `fov: auto` datasets and the `--fov auto` flag
of val / predict / deploy infer, where no mask file is given; the result is used exactly like a given
mask (labels outside -> ignore_index; predictions outside -> background, by `background_outside`).

A fundus camera's picture is a bright disc on a near-black surround, so the red channel (the brightest
in fundus images) is thresholded at 10% of the way from its dark level (2nd percentile) to its bright
level (99th percentile); percentiles make it independent of the value range (uint8 or float, any
scale) and of a few saturated or dead pixels. An opening cuts thin bright specks and bridges, the
largest component is the eye, and dark spots inside it (vessels, fovea, lesions) are filled. Written
here with OpenCV because no installed library estimates a fundus FOV. On the 20 DRIVE training images
the IoU with DRIVE's own masks is >= 0.990 each (benchmarks/fov_iou.py, docs/vessel_maps.md).
"""
import cv2
import numpy as np

# Threshold position between the dark level and the bright level of the red channel: DRIVE's masks
# include the dim rim of the disc (IoU min 0.990 at 0.1; 0.9575 with Otsu, which splits bright/dim
# fundus halves on image 34).
LEVEL = 0.1
DARK_PERCENTILE, BRIGHT_PERCENTILE = 2, 99
# Opening kernel side: a fraction of the image's shorter side, at least 3 px (3 px on DRIVE's 565x584).
OPENING_FRACTION = 0.005


def estimate_fov(image):
    """Estimate the field-of-view mask of a fundus image.

    Args:
        image (np.ndarray): (H, W, 3) RGB or (H, W) / (H, W, 1) gray, uint8 or float, any value scale.

    Returns:
        np.ndarray: (H, W) uint8, 1 inside the field of view, 0 outside (all 1 when no bright disc is
        found, e.g. a flat image: nothing is masked rather than everything).
    """
    channel = _brightest_channel(image)
    dark, bright = np.percentile(channel[::2, ::2], (DARK_PERCENTILE, BRIGHT_PERCENTILE))
    if bright <= dark:
        return np.ones(channel.shape, np.uint8)
    mask = (channel > dark + LEVEL * (bright - dark)).astype(np.uint8)
    side = max(3, int(round(OPENING_FRACTION * min(mask.shape)))) | 1
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((side, side), np.uint8))
    mask = largest_component(mask)
    return fill_holes(mask) if mask.any() else np.ones_like(mask)


def _brightest_channel(image):
    """The red channel of an RGB image, the image itself when gray, as float32 (H, W)."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = image[:, :, 0]
    if image.ndim != 2:
        raise ValueError("estimate_fov: expected an (H, W, 3) or (H, W) image, got shape {}".format(image.shape))
    return image.astype(np.float32)


def largest_component(mask):
    """The largest 8-connected component of a 0/1 uint8 mask (all 0 when the mask is empty)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return np.zeros_like(mask)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return (labels == biggest).astype(np.uint8)


def fill_holes(mask):
    """A 0/1 uint8 mask with every background region not connected to the image border set to 1."""
    padded = np.pad(mask, 1)
    outside = np.zeros((padded.shape[0] + 2, padded.shape[1] + 2), np.uint8)
    cv2.floodFill(padded, outside, (0, 0), 2)
    return (padded[1:-1, 1:-1] != 2).astype(np.uint8)


def background_outside(fov, pred, prob=None):
    """A prediction with every pixel outside the FOV set to background (class 0, probability 1 for class 0).

    Args:
        fov (np.ndarray | None): (H, W), nonzero inside; None returns the inputs unchanged.
        pred (np.ndarray): (H, W) class ids.
        prob (np.ndarray, optional): (C, H, W) class probabilities.

    Returns:
        tuple: (pred, prob) as new arrays (prob None when not given); the inputs are not modified.
    """
    if fov is None:
        return pred, prob
    outside = np.asarray(fov) == 0
    pred = np.where(outside, 0, pred).astype(pred.dtype)
    if prob is not None:
        prob = np.where(outside, 0, prob).astype(prob.dtype)
        prob[0][outside] = 1
    return pred, prob
