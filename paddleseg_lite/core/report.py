"""The evaluation report `tools/val.py --save_dir` writes: pictures per image, ROC / PR curves, index.html.

`core.val.evaluate_metrics` calls `ReportWriter.add` for each image as it is evaluated (its pictures are
written at once, so memory stays bounded whatever the dataset size) and `finish` once with the pooled
metrics (curves and the page). Files, all relative to save_dir so the folder can be moved or served as
it is:

    index.html                          summary metrics, curves, one row per image (`core.report_page`)
    roc.png, pr.png                     curves from the AUC score histogram (`core.report_curves`)
    images/<NNNN>_<stem>_<kind>.png     kind: image, prediction (`visual.overlay`), errors (`visual.error_map`),
                                        probability (foreground probability x 255, when computed)
    thumbs/<NNNN>_<stem>_<kind>.png     the same, THUMB_SIZE pixels on the longer side

NNNN is the image's index in the dataset, so names never collide and several ranks can write theirs.
"""
import os
import re

import cv2
import numpy as np
import paddle

from paddleseg_lite.core.report_curves import write_curves
from paddleseg_lite.core.report_page import write_page
from paddleseg_lite.transforms.io import read_image
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.imageio import write_image
from paddleseg_lite.utils.labels import num_classes_of
from paddleseg_lite.utils.visual import denormalize, error_map, overlay, probability_image

THUMB_SIZE = 128
KINDS = ("image", "prediction", "errors", "probability")


def image_file(index, name, kind, folder="images"):
    """The relative path of one picture of image `index` (named `name`, e.g. its path)."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.splitext(os.path.basename(name))[0]) or "image"
    return "{}/{:04d}_{}_{}.png".format(folder, index, stem, kind)


def display_image(img_path, img_chw, shape):
    """HxWx3 uint8 RGB to draw on: the image file as the user knows it when it is one at the label size,
    else the network input (after its transforms) rescaled for display and resized to `shape`."""
    if os.path.isfile(img_path):
        try:
            image = read_image(img_path)
        except UserError:
            image = None
        if image is not None and image.shape[:2] == tuple(shape):
            return np.clip(image, 0, 255).astype(np.uint8)
    image = denormalize(img_chw)
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def thumbnail(picture):
    """`picture` scaled to THUMB_SIZE pixels on its longer side (INTER_AREA down, NEAREST up: small images
    stay crisp), so the page's rows line up."""
    height, width = picture.shape[:2]
    scale = THUMB_SIZE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(picture, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST)


class ReportWriter:
    """Writes the report of one evaluation under `save_dir` (see the module docstring).

    Args:
        save_dir (str): output folder (checked writable by the tool).
        num_classes (int): classes of the dataset (2 for vessels).
        ignore_index (int): label value not counted (drawn like outside the FOV in the error map).
    """

    def __init__(self, save_dir, num_classes, ignore_index=255):
        self.save_dir = save_dir
        self.num_classes = num_classes_of(num_classes)
        self.ignore_index = ignore_index
        # rank r evaluates images r, r + world_size, ... (core.loader.ShardBatchSampler)
        self.rank, self.world_size = paddle.distributed.get_rank(), paddle.distributed.get_world_size()
        self.count, self.kinds = 0, KINDS[:-1]

    def add(self, data, label, pred, prob=None, fov=None):
        """Writes the pictures of one evaluated image (batch of one from the val loader).

        Args:
            data (dict): the loader's batch (`img` 1xCxHxW, `img_path`).
            label, pred (np.ndarray): HxW class ids at the original size.
            prob (np.ndarray, optional): CxHxW probabilities.
            fov (np.ndarray, optional): HxW, 1 inside the field of view.
        """
        index = self.count * self.world_size + self.rank
        self.count += 1
        name = str(data["img_path"][0])
        image = display_image(name, data["img"].numpy()[0], label.shape)
        pictures = {"image": image, "prediction": overlay(image, pred, self.num_classes),
                    "errors": error_map(pred, label, fov, self.ignore_index)}
        if prob is not None:
            pictures["probability"] = probability_image(prob)
            self.kinds = KINDS
        for kind, picture in pictures.items():
            if picture.ndim == 3:
                picture = np.ascontiguousarray(picture[:, :, ::-1])  # RGB -> OpenCV's BGR
            write_image(os.path.join(self.save_dir, image_file(index, name, kind)), picture)
            write_image(os.path.join(self.save_dir, image_file(index, name, kind, "thumbs")), thumbnail(picture))

    def finish(self, metrics, evaluator):
        """Writes roc.png, pr.png and index.html once every image is in `evaluator.per_image` (all ranks).

        Args:
            metrics (dict): the pooled metrics of `evaluate_metrics`.
            evaluator (SegEvaluator): its per-image records and AUC histograms.
        """
        region = "fov" if evaluator.has_fov else "image"
        curves = {}
        if region in evaluator.auc:
            curves = write_curves(self.save_dir, evaluator.auc[region], metrics)
        rows = [(record, [(kind, image_file(i, record["name"], kind), image_file(i, record["name"], kind, "thumbs"))
                          for kind in self.kinds]) for i, record in enumerate(evaluator.per_image)]
        logger.info("Evaluation report (open in a browser): {}".format(
            write_page(self.save_dir, metrics, rows, region, curves)))
