"""How well `utils.fov.estimate_fov` finds the field of view: IoU with DRIVE's own FOV masks.

Reads a DRIVE folder (flat `images/` + `mask/`, or the archive's `training/` / `test/`), estimates the FOV
of each image from the picture alone and prints its IoU with the shipped `*_mask.gif`, then min and mean.
The figures are in docs/vessel_maps.md ("Field of view").

    python benchmarks/fov_iou.py [--drive ../shared/data/DRIVE-training]
"""
import argparse
import glob
import os
import sys
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

from paddleseg_lite.transforms import io  # noqa: E402
from paddleseg_lite.utils.fov import estimate_fov  # noqa: E402


def pairs(root):
    """(image, mask) paths of every DRIVE image under `root` that has a mask."""
    found = []
    for image in sorted(glob.glob(os.path.join(root, "**", "images", "*"), recursive=True)):
        stem = os.path.splitext(os.path.basename(image))[0]
        masks = glob.glob(os.path.join(os.path.dirname(os.path.dirname(image)), "mask", stem + "_mask.*"))
        if masks:
            found.append((image, masks[0]))
    return found


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drive", default=os.path.join(ROOT, "..", "shared", "data", "DRIVE-training"),
                   help="DRIVE folder (images/ + mask/)")
    args = p.parse_args()
    found = pairs(args.drive)
    if not found:
        sys.exit("no images/ with mask/ found under {}".format(args.drive))
    ious, seconds = [], []
    for image_path, mask_path in found:
        image, truth = io.read_image(image_path), io.read_fov(mask_path).astype(bool)
        tic = time.perf_counter()
        estimate = estimate_fov(image).astype(bool)
        seconds.append(time.perf_counter() - tic)
        ious.append((estimate & truth).sum() / (estimate | truth).sum())
        print("{:<28} IoU {:.4f}".format(os.path.basename(image_path), ious[-1]))
    print("{} images: IoU min {:.4f} mean {:.4f}; {:.1f} ms per image".format(
        len(ious), min(ious), float(np.mean(ious)), 1000 * float(np.median(seconds))))


if __name__ == "__main__":
    main()
