"""Write SyntheticVessels samples to disk as a file-list dataset.

    python tools/make_synthetic_data.py --save_dir data/synthetic --num 6 --size 96 --mode val

Writes images/<name>.png (RGB), labels/<name>.png (vessels 0/1), masks/<name>.png (FOV 0/255) and
<mode>_list.txt with `images/x.png labels/x.png masks/x.png` lines, so the files work with
`type: Dataset` (third column = FOV) and with tools/predict.py --image_path <save_dir>/images.
The images are exactly those `type: SyntheticVessels` yields for the same mode, size and seed.
"""
import argparse
import os

import cv2

from paddleseg_lite.datasets import SyntheticVessels
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--save_dir", required=True, help="output folder")
    parser.add_argument("--num", type=int, default=None, help="number of images (default 24 train / 6 val)")
    parser.add_argument("--size", type=int, nargs="+", default=[96], help="side, or width height (default 96)")
    parser.add_argument("--mode", default="val", choices=["train", "val", "test"], help="split (default val)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    return parser.parse_args(argv)


def write_dataset(save_dir, num, size, mode, seed):
    """Generate the samples and write them with their list file; return the list path."""
    try:
        dataset = SyntheticVessels(mode=mode, num_samples=num, image_size=size, seed=seed)
    except ValueError as err:
        raise UserError(str(err)) from None
    lines = []
    for idx in range(len(dataset)):
        img, vessels, fov = dataset.generate(idx)
        name = "synthetic_{}_{:04d}".format(mode, idx)
        for sub, array in (("images", img[:, :, ::-1]), ("labels", vessels), ("masks", fov * 255)):
            os.makedirs(os.path.join(save_dir, sub), exist_ok=True)
            path = os.path.join(save_dir, sub, name + ".png")
            if not cv2.imwrite(path, array):
                raise UserError("cannot write '{}'; check --save_dir".format(path))
        lines.append("images/{0}.png labels/{0}.png masks/{0}.png".format(name))
    list_path = os.path.join(save_dir, "{}_list.txt".format(mode))
    with open(list_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return list_path


def main(argv=None):
    args = parse_args(argv)
    size = args.size[0] if len(args.size) == 1 else args.size
    list_path = write_dataset(args.save_dir, args.num, size, args.mode, args.seed)
    logger.info("Wrote synthetic {} data to {} (list: {})".format(args.mode, args.save_dir, list_path))
