"""Vessel topology per image: clDice (skeleton-based Dice) and Betti-0 / Betti-1 errors.

Pixel-overlap metrics (F1, AUC) barely move when a thin vessel is cut in two or two vessels merge;
these do. `SegEvaluator` calls `topology_counts` once per image on the foreground masks restricted
to the evaluated region (inside the FOV, labelled pixels only); `topology_metrics` turns the counts
into clDice and the Betti errors.

* clDice (Shit et al., CVPR 2021): Tprec = |S(pred) ∩ gt| / |S(pred)|, Tsens = |S(gt) ∩ pred| / |S(gt)|,
  clDice = 2·Tprec·Tsens / (Tprec + Tsens), S the skeleton. The four counts are integers, so they
  add up over images (pooled clDice, like the pooled F1) and across ranks.
* Betti numbers in 2D: b0 = connected vessel components with 8-connectivity; b1 = holes, the
  background components with 4-connectivity that do not reach the image border (pixels outside the
  region are background; outside the FOV they reach the border) (8 for foreground / 4 for background
  is the pairing under which b0 - b1 is the Euler number and a one-pixel-wide diagonal loop encloses
  a hole). Errors are |b(pred) - b(gt)| per image.

Skeletons: Zhang-Suen thinning (CACM 27(3), 1984) written here, vectorised with a 256-entry lookup
table over the 8-neighbour code, rather than `skimage.morphology.skeletonize`. scikit-image would add
scipy, imageio, tifffile and lazy_loader to the install (~57 MB of wheels, ~180 MB installed, about
1 s of import time) for one 30-line function (20 ms for a DRIVE label: it works on the foreground
pixels only); cv2's `ximgproc.thinning` is only in the opencv-contrib build. This is the textbook
rule set; scikit-image's table also thins the corners of diagonal staircases, so its skeletons of the
20 DRIVE training labels have 12% fewer pixels, and clDice differs by 0.000-0.013 on noisy DRIVE-like
predictions (measured once while writing this; the tests check hand-drawn skeletons). The skeleton
keeps b0 and b1 of the mask on those 20 labels and on 300 random masks. Connected components come
from cv2 (already a dependency).
"""
import cv2
import numpy as np

from paddleseg_lite.utils.metrics.arrays import divide

# neighbour k of the 8-neighbour code, clockwise from north (Zhang-Suen's P2..P9) as (row, col) offsets
_NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def _deletable_luts():
    """The two sub-iterations' tables: code (bit k = neighbour k is foreground) -> deletable."""
    bits = (np.arange(256)[:, None] >> np.arange(8)) & 1          # 256 × 8: P2..P9
    count = bits.sum(1)                                            # B(P): foreground neighbours
    transitions = ((bits == 0) & (np.roll(bits, -1, axis=1) == 1)).sum(1)   # A(P): 0 -> 1 in P2..P9,P2
    p2, p4, p6, p8 = bits[:, 0], bits[:, 2], bits[:, 4], bits[:, 6]
    common = (count >= 2) & (count <= 6) & (transitions == 1)
    first = common & (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
    second = common & (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
    return first, second


_LUTS = _deletable_luts()


def _thin(mask):
    """Zhang-Suen sub-iterations until nothing changes; works on the foreground pixels' flat indices
    only (vessels are ~12% of a fundus image), each sub-iteration deleting in parallel."""
    padded = np.pad(mask, 1).astype(np.uint8)
    width = padded.shape[1]
    offsets = np.array([dy * width + dx for dy, dx in _NEIGHBOURS])
    flat = padded.ravel()
    pixels = np.flatnonzero(flat)
    changed = True
    while changed:
        changed = False
        for lut in _LUTS:
            code = np.zeros(pixels.size, np.uint8)
            for bit, offset in enumerate(offsets):
                code |= flat[pixels + offset] << bit
            delete = lut[code]
            if delete.any():
                flat[pixels[delete]] = 0
                pixels = pixels[~delete]
                changed = True
    return padded[1:-1, 1:-1].astype(bool)


def skeletonize(mask):
    """Zhang-Suen skeleton of a 2D boolean mask (pixels outside the array count as background).

    Zhang-Suen erases a 2×2 block entirely; a component left without a skeleton pixel keeps its
    first pixel (raster order), so every 8-connected component of `mask` has a skeleton.

    Returns:
        np.ndarray: bool, same shape; thin lines that keep every component connected.
    """
    mask = np.asarray(mask, bool)
    skeleton = _thin(mask)
    components = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[1].ravel()
    ids, first = np.unique(components, return_index=True)
    lost = ~np.isin(ids, components[skeleton.ravel()]) & (ids != 0)
    skeleton.ravel()[first[lost]] = True
    return skeleton


def betti_numbers(mask):
    """(b0, b1) of a 2D boolean mask: 8-connected components and 4-connected enclosed holes."""
    mask = np.asarray(mask, bool)
    b0 = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1
    # labels of the background (padded: the outside is one component); minus label 0 (the mask) and the outside
    background = np.pad(~mask, 1, constant_values=True).astype(np.uint8)
    b1 = cv2.connectedComponents(background, connectivity=4)[0] - 2
    return int(b0), int(b1)


def topology_counts(pred, gt):
    """One image's integer topology counts from foreground masks already restricted to the region.

    Args:
        pred (np.ndarray): bool H×W, predicted vessel pixels (False outside the region).
        gt (np.ndarray): bool H×W, ground-truth vessel pixels (False outside the region).

    Returns:
        dict: skel_pred_in_gt, skel_pred, skel_gt_in_pred, skel_gt (pixel counts) and
        betti0_pred, betti0_gt, betti1_pred, betti1_gt.
    """
    skel_pred, skel_gt = skeletonize(pred), skeletonize(gt)
    (b0_pred, b1_pred), (b0_gt, b1_gt) = betti_numbers(pred), betti_numbers(gt)
    return {"skel_pred_in_gt": int(np.count_nonzero(skel_pred & gt)), "skel_pred": int(np.count_nonzero(skel_pred)),
            "skel_gt_in_pred": int(np.count_nonzero(skel_gt & pred)), "skel_gt": int(np.count_nonzero(skel_gt)),
            "betti0_pred": b0_pred, "betti0_gt": b0_gt, "betti1_pred": b1_pred, "betti1_gt": b1_gt}


def cldice(skel_pred_in_gt, skel_pred, skel_gt_in_pred, skel_gt):
    """clDice from skeleton counts; an empty skeleton gives precision / sensitivity 0 (clDice 0)."""
    tprec = float(divide(skel_pred_in_gt, skel_pred, 0.0))
    tsens = float(divide(skel_gt_in_pred, skel_gt, 0.0))
    return float(divide(2 * tprec * tsens, tprec + tsens, 0.0))


def topology_metrics(counts):
    """clDice and the Betti errors of one image's counts (a `topology_counts` dict).

    Returns:
        dict: cldice (float), betti0_err, betti1_err (ints).
    """
    return {"cldice": cldice(counts["skel_pred_in_gt"], counts["skel_pred"], counts["skel_gt_in_pred"],
                             counts["skel_gt"]),
            "betti0_err": abs(counts["betti0_pred"] - counts["betti0_gt"]),
            "betti1_err": abs(counts["betti1_pred"] - counts["betti1_gt"])}


def pooled_topology(counts_list):
    """Over images: clDice of the summed skeleton counts, mean Betti errors (NaN when there is no image)."""
    if not counts_list:
        return {"cldice": float("nan"), "betti0_err": float("nan"), "betti1_err": float("nan")}
    summed = {key: sum(c[key] for c in counts_list) for key in counts_list[0]}
    per_image = [topology_metrics(c) for c in counts_list]
    return {"cldice": topology_metrics(summed)["cldice"],
            "betti0_err": float(np.mean([m["betti0_err"] for m in per_image])),
            "betti1_err": float(np.mean([m["betti1_err"] for m in per_image]))}
