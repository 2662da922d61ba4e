"""Prediction on image files: PaddleSeg's outputs (pseudo-colour and blended images) plus probabilities.

    save_dir/pseudo_color_prediction/<relpath-stem>.png   palette PNG, pixel value = class id
    save_dir/added_prediction/<relpath>                   0.6 * image + 0.4 * colour mask
    save_dir/probability_map/<relpath-stem>.png           foreground probability x 255 (--save_prob)
"""
import os

import cv2
import numpy as np
import paddle

from paddleseg_lite.core.infer import aug_inference, inference, logits_to_pred, logits_to_prob
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.imageio import write_image, write_palette_png
from paddleseg_lite.utils.progress import Progbar
from paddleseg_lite.utils.visual import color_map

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


def _logits(model, data, options):
    im = paddle.to_tensor(data["img"][np.newaxis])
    trans_info = data.get("trans_info") or None
    slide = {k: options.get(k) for k in ("is_slide", "stride", "crop_size", "mirror_pad")}
    if options.get("aug_eval"):
        return aug_inference(model, im, trans_info, scales=options.get("scales", 1.0),
                             flip_horizontal=options.get("flip_horizontal", False),
                             flip_vertical=options.get("flip_vertical", False), **slide)
    return inference(model, im, trans_info, **slide)


def _write_outputs(path, rel, pred, prob, save_dir, colors):
    stem = os.path.splitext(rel)[0]
    write_palette_png(os.path.join(save_dir, "pseudo_color_prediction", stem + ".png"), pred, colors)
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    mask_bgr = colors[np.minimum(pred, len(colors) - 1)][:, :, ::-1]
    added = cv2.addWeighted(image, 0.6, np.ascontiguousarray(mask_bgr), 0.4, 0)
    write_image(os.path.join(save_dir, "added_prediction", rel), added)
    if prob is not None:
        fg = prob[1] if prob.shape[0] == 2 else prob.max(axis=0)
        write_image(os.path.join(save_dir, "probability_map", stem + ".png"),
                    np.round(fg * 255).astype(np.uint8))


def predict(model, transforms, image_list, image_dir, save_dir="output/result", save_prob=False,
            custom_color=None, **test_config):
    """Predict every image of `image_list` and write the outputs under `save_dir`.

    Args:
        model (paddle.nn.Layer): Loaded model.
        transforms (Compose): The val transforms of the config.
        image_list (list[str]): Image files.
        image_dir (str): Output paths mirror the images' paths relative to this directory.
        save_prob (bool): Also write foreground probability maps.
        custom_color (list[int], optional): Flat RGB list replacing the palette's first colours.
        **test_config: aug_eval, scales, flip_horizontal, flip_vertical, is_slide, crop_size, stride, mirror_pad.
    """
    colors = color_map(256)
    if custom_color:
        custom = np.asarray(custom_color, np.uint8).reshape(-1, 3)
        colors[:len(custom)] = custom
    model.eval()
    progbar = Progbar(len(image_list))
    for i, path in enumerate(image_list, 1):
        data = transforms({"img": path, "trans_info": [], "gt_fields": []})
        logits = _logits(model, data, test_config)
        pred = logits_to_pred(logits).numpy()[0, 0].astype(np.uint8)
        prob = logits_to_prob(logits).numpy()[0] if save_prob else None
        _write_outputs(path, os.path.relpath(path, image_dir), pred, prob, save_dir, colors)
        progbar.update(i)
    logger.info("Predicted images are saved in {} and {} .".format(
        os.path.join(save_dir, "added_prediction"), os.path.join(save_dir, "pseudo_color_prediction")))
