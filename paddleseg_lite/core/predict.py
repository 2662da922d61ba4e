"""Prediction on image files: PaddleSeg's outputs (pseudo-colour and blended images) plus probabilities.

    save_dir/pseudo_color_prediction/<relpath-stem>.png   palette PNG, pixel value = class id
    save_dir/added_prediction/<relpath>                   the prediction over the image (`utils.visual.overlay`:
                                                          binary: vessels bright, background unchanged;
                                                          multi-class: 0.6 * image + 0.4 * colour mask)
    save_dir/probability_map/<relpath-stem>.png           foreground probability x 255 (--save_prob)

With a field of view (`fov`: a `datasets.fov.FovSource`), all three are background outside it.

An image of several that cannot be read (missing, empty, truncated, not an image) is skipped with a
warning naming it, and a summary follows the run; only when none can be read is it an error.
"""
import os

import cv2
import numpy as np
import paddle

from paddleseg_lite.models.outputs import logits_to_pred, logits_to_prob
from paddleseg_lite.core.inference_options import InferenceOptions
from paddleseg_lite.core.threshold import parse_threshold, resolve_threshold
from paddleseg_lite.datasets.fov import FovSource
from paddleseg_lite.models.checkpoint_io import load_entire_model
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.fov import background_outside
from paddleseg_lite.utils.imageio import write_image, write_palette_png
from paddleseg_lite.utils.progress import track
from paddleseg_lite.utils.visual import overlay, palette, probability_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


def _is_image(path):
    return path.lower().endswith(IMAGE_SUFFIXES)


def _from_list_file(path):
    base, images = os.path.dirname(os.path.abspath(path)), []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                images.append(os.path.join(base, line.split()[0]))
    return images, base


def get_image_list(image_path):
    """Images from one file, a directory (recursive) or a .txt list (paths relative to the list).

    Returns:
        tuple: (sorted image paths, the directory output paths are made relative to).
    """
    if os.path.isfile(image_path) and image_path.endswith(".txt"):
        images, base = _from_list_file(image_path)
    elif os.path.isfile(image_path) and _is_image(image_path):
        images, base = [image_path], os.path.dirname(os.path.abspath(image_path))
    elif os.path.isdir(image_path):
        base = os.path.abspath(image_path)
        images = [os.path.join(root, f) for root, _, files in os.walk(image_path) for f in files if _is_image(f)]
    else:
        raise UserError("--image_path {}: not an image ({}), a directory or a .txt list".format(
            image_path, "/".join(IMAGE_SUFFIXES)))
    if not images:
        raise UserError("--image_path {}: no images found (suffixes {})".format(image_path, "/".join(IMAGE_SUFFIXES)))
    return sorted(images), base


class SkippedImages:
    """The images of a prediction run that could not be read: the rest are still predicted.

    Each skipped file gets a warning line, `finish` a summary line; when no image could be read,
    `finish` raises a UserError (a single image's own read error is raised as it is).
    """

    def __init__(self, total):
        self.total, self.paths = total, []

    def load(self, transforms, path):
        """`transforms` applied to the image file `path`, or None when the file cannot be read."""
        try:
            return transform_image(transforms, path)
        except UserError as e:
            if self.total == 1:
                raise
            logger.warning("Skipped {}: {}".format(path, e))
            self.paths.append(path)
            return None

    def finish(self):
        """Log how many images were skipped; raise a UserError when that was all of them."""
        if len(self.paths) == self.total:
            raise UserError("none of the {} images could be read (each is named in a warning above); fix or "
                            "replace the files".format(self.total))
        if self.paths:
            logger.warning("Skipped {} of {} images that could not be read (named above); the other {} were "
                           "predicted".format(len(self.paths), self.total, self.total - len(self.paths)))


def _write_outputs(path, rel, pred, prob, save_dir, colors, num_classes, custom_color):
    stem = os.path.splitext(rel)[0]
    write_palette_png(os.path.join(save_dir, "pseudo_color_prediction", stem + ".png"), pred, colors)
    image_rgb = cv2.imread(path, cv2.IMREAD_COLOR)[:, :, ::-1]
    added = overlay(image_rgb, pred, num_classes, colors if custom_color else None)
    write_image(os.path.join(save_dir, "added_prediction", rel), np.ascontiguousarray(added[:, :, ::-1]))
    if prob is not None:
        write_image(os.path.join(save_dir, "probability_map", stem + ".png"), probability_image(prob))


def predict(model, model_path, transforms, image_list, image_dir=None, save_dir="output", aug_pred=False,
            scales=1.0, flip_horizontal=True, flip_vertical=False, is_slide=False, stride=None, crop_size=None,
            custom_color=None, use_multilabel=False, save_prob=False, mirror_pad=False, threshold=None):
    """PaddleSeg's `predict` (same parameters and order; `save_prob`, `mirror_pad` and `threshold` added).

    Args:
        model (paddle.nn.Layer): The model (or a `deploy.PredictorModel`).
        model_path (str | None): Weights loaded into `model` first; None uses the model as it is.
        transforms (Compose): The val transforms of the config.
        image_list (list[str]): Image files.
        image_dir (str, optional): Output paths mirror the images' paths relative to this directory
            (default: the file name alone).
        aug_pred, scales, flip_horizontal, flip_vertical, is_slide, stride, crop_size, mirror_pad: how to
            infer (`InferenceOptions`; the flips and scales apply only with aug_pred, as in PaddleSeg).
        custom_color (list[int], optional): Flat RGB list replacing the palette's first colours.
        save_prob (bool): Also write foreground probability maps.
        threshold (float, optional): Decision threshold of a binary model; default: the one stored with
            `model_path` (`core.threshold`), else argmax.
    """
    if use_multilabel:
        raise UserError("predict: use_multilabel is not supported (one class per pixel)")
    if model_path:
        load_entire_model(model, model_path)
    options = InferenceOptions(aug=aug_pred, scales=scales, flip_horizontal=flip_horizontal,
                               flip_vertical=flip_vertical, is_slide=is_slide, stride=stride, crop_size=crop_size,
                               mirror_pad=mirror_pad)
    threshold = resolve_threshold(parse_threshold(threshold, allow_auto=False), model_path).value
    predict_images(model, transforms, image_list, image_dir, save_dir, options, save_prob, custom_color, threshold)


def transform_image(transforms, image):
    """The val `transforms` applied to one image (a file path, or an HxWxC RGB array), for `predict_sample`."""
    return transforms({"img": image, "trans_info": [], "gt_fields": []})


def predict_sample(model, data, options, threshold=None, fov=None):
    """The prediction of one sample the val transforms made (`data`: CHW `img`, `trans_info`), at the image's
    original size: the one inference path of tools/predict.py and the Python API (`paddleseg_lite.apis`).

    Args:
        model: The model in eval mode (or an engine: `deploy.PredictorModel`, `OnnxModel`).
        options (InferenceOptions): How to infer (flips, scales, sliding windows).
        threshold (float, optional): Decision threshold of a binary model; None: argmax.
        fov (np.ndarray, optional): (H, W) field of view; outside it everything is background.

    Returns:
        tuple: (class ids (H, W) uint8, class probabilities (C, H, W) float32; C = 2 for a 1-channel model).
    """
    logits = options.logits(model, paddle.to_tensor(data["img"][np.newaxis]), data.get("trans_info") or None)
    pred = logits_to_pred(logits, threshold).numpy()[0, 0].astype(np.uint8)
    prob = logits_to_prob(logits).numpy()[0]
    return background_outside(fov, pred, prob)


def predict_images(model, transforms, image_list, image_dir, save_dir, options, save_prob=False, custom_color=None,
                   threshold=None, fov=None):
    """Predict every image of `image_list` with `options` (and the decision `threshold` of a binary model;
    None: argmax) and write the outputs under `save_dir`; with a `fov` (FovSource), background outside each
    image's field of view (vessel pixels only where the probability is >= threshold inside it)."""
    colors, fov = palette(custom_color), fov or FovSource(None)
    fov.check(image_list)
    model.eval()
    skipped = SkippedImages(len(image_list))
    for path in track(image_list, "predict", "img"):
        data = skipped.load(transforms, path)
        if data is not None:
            pred, prob = predict_sample(model, data, options, threshold, fov.mask(path))
            rel = os.path.relpath(path, image_dir) if image_dir else os.path.basename(path)
            _write_outputs(path, rel, pred, prob if save_prob else None, save_dir, colors, len(prob), custom_color)
    skipped.finish()
    logger.info("Predicted images are saved in {} and {} .".format(
        os.path.join(save_dir, "added_prediction"), os.path.join(save_dir, "pseudo_color_prediction")))

