"""The Python API for notebooks and scripts: build a model once, then predict images in one call.

    from paddleseg_lite import init_model, inference_model
    model = init_model("drive_unet_cpu")                        # a shipped model; or a config file + checkpoint
    label_map, probabilities = inference_model(model, "fundus.png")   # or an HxWx3 uint8 RGB array

MMSeg's two names (`init_model(config, checkpoint, device)`, `inference_model(model, img)`), because users
of MMSeg know them and a notebook needs nothing else; what `init_model` builds (the model or its inference
engine, the val transforms, test_config's flips / sliding windows, the decision threshold, the FOV) is a
`Segmenter`, which may also be called directly: `model(img)`.

Same pixels as tools/predict.py: every step is the tool's own, with the tool's defaults (engine auto,
precision fp32, device gpu falling back to cpu): `Config`, `cli.load_model` (which engine runs the
model), `InferenceOptions.from_test_config` (predict without flags), `core.threshold.resolve_threshold`
(`--threshold` > the threshold stored with the weights > argmax), `cli.fov.predict_fov` (fundus configs:
FOV auto) and `core.predict.transform_image` + `predict_sample` (one image, back at its original size).

Arrays are RGB, the channel order in which the datasets and tools/predict.py read image files
(`transforms.io.read_image`: OpenCV's BGR reversed) and in which Pillow, imageio and matplotlib give them;
an array from `cv2.imread` is BGR: pass `img[:, :, ::-1]`.

Layer: the top, above cli, whose engine and FOV choices it takes; only the package root imports it, lazily,
so `import paddleseg_lite` stays free of paddle.
"""
import argparse
import os
from typing import NamedTuple

import numpy as np
import paddle

from paddleseg_lite import cli, pretrained
from paddleseg_lite.cli.fov import predict_fov
from paddleseg_lite.core.inference_options import InferenceOptions
from paddleseg_lite.core.predict import predict_sample, transform_image
from paddleseg_lite.core.threshold import model_classes, parse_threshold, resolve_threshold
from paddleseg_lite.cvlibs import Config
from paddleseg_lite.datasets.fov import AUTO, FovSource
from paddleseg_lite.utils.cpu import setup_cpu_threads
from paddleseg_lite.utils.device import DEVICES, resolve_device
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.validate import check_choice, did_you_mean

class Prediction(NamedTuple):
    """One image's prediction at its original size (background outside the field of view, if any)."""
    label_map: np.ndarray  # (H, W) uint8 class ids
    probabilities: np.ndarray  # (C, H, W) float32 class probabilities (C = 2 for a 1-channel sigmoid model)


class Segmenter:
    """A model ready to predict images as tools/predict.py does (built by `init_model`).

    Args:
        model: The model in eval mode, or its inference engine (`cli.load_model`).
        transforms (Compose): The config's val transforms.
        options (InferenceOptions): The config's test_config.
        threshold (float, optional): Decision threshold of a binary model; None: argmax.
        fov (FovSource): The field of view of each image (its `source` None: none).
    """

    def __init__(self, model, transforms, options, threshold=None, fov=None):
        self.model, self.transforms, self.options = model, transforms, options
        self.threshold, self.fov = threshold, fov or FovSource(None)

    def __call__(self, img):
        """The Prediction of `img` (an image file path or an HxWx3 uint8 RGB array); a list gives a list."""
        if isinstance(img, (list, tuple)):
            return [self(one) for one in img]
        data, fov = self._load(img)
        return Prediction(*predict_sample(self.model, data, self.options, self.threshold, fov))

    def _load(self, img):
        """(the transformed sample, its FOV mask or None) of an image path or array."""
        if isinstance(img, (str, os.PathLike)):
            path = os.fspath(img)
            return transform_image(self.transforms, path), self.fov.mask(path)
        _check_array(img)
        if self.fov.source not in (None, AUTO):
            raise UserError("init_model(fov={!r}): FOV masks are matched to images by file name, so predict image "
                            "paths, or use fov='auto' or 'none' for arrays".format(self.fov.source))
        return transform_image(self.transforms, img), self.fov.mask(None, image=img)


def _check_array(img):
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
        got = "an array of {} {}".format(img.dtype, img.shape) if isinstance(img, np.ndarray) else type(img).__name__
        raise UserError("inference_model: img must be an image file path or an HxWx3 uint8 RGB array, got " + got)


def init_model(config, checkpoint=None, device="gpu", engine="auto", precision="fp32", threshold=None, fov=None,
               opts=None):
    """Build a model from a config file (or a shipped model's name) and load its weights, for `inference_model`.

    Args:
        config (str): A YAML config file, or the name of a shipped model (`paddleseg_lite.pretrained.names()`,
            e.g. 'drive_unet_cpu'), which brings its config and weights.
        checkpoint (str, optional): The weights (a .pdparams file, a checkpoint directory or a URL); None with
            a config file keeps the random initialisation (with a warning).
            A list of them is an ensemble (`models.ensemble`), as several --model_path of tools/predict.py.
        device (str): 'gpu' (falls back to 'cpu' with a log line) or 'cpu'; sets Paddle's device.
        engine (str): 'auto', 'dygraph', 'inference' (Paddle Inference) or 'onnx' (ONNX Runtime), as
            tools/predict.py's `--engine`.
        precision (str): 'fp32', 'bf16' or 'auto', as `--precision` (bf16: Paddle Inference on a CPU).
        threshold (float, optional): Decision threshold of a binary model; default: the one stored with the
            weights, else argmax.
        fov (str, optional): 'auto', 'none' or a folder of masks, as `--fov`; default: auto for fundus configs.
        opts (list[str], optional): Config overrides `key.subkey=value`, as `--opts`
            (e.g. ['test_config.is_slide=True']).

    Returns:
        Segmenter

    Raises:
        UserError: a config, checkpoint or argument that cannot be used (one line naming it).
    """
    config, checkpoint = _config_and_weights(config, checkpoint)
    check_choice("init_model", "device", device, DEVICES, error=UserError)
    check_choice("init_model", "engine", engine, cli.ENGINES, error=UserError)
    check_choice("init_model", "precision", precision, cli.PRECISIONS, error=UserError)
    value = parse_threshold(threshold, allow_auto=False)
    paddle.set_device(resolve_device(device, "init_model"))
    setup_cpu_threads()
    cfg = Config(config, opts=opts)
    fov_source = predict_fov(cfg, fov)
    options = InferenceOptions.from_test_config(cfg.test_config)
    decision = resolve_threshold(value, checkpoint, model_classes(cfg))
    model = cli.load_model(cfg, argparse.Namespace(engine=engine, precision=precision, model_path=checkpoint))
    model.eval()
    return Segmenter(model, cfg.val_transforms, options, decision.value, fov_source)


def inference_model(model, img):
    """Predict `img` with a model from `init_model`.

    Args:
        model (Segmenter): From `init_model`.
        img (str | np.ndarray | list): An image file path, an HxWx3 uint8 RGB array, or a list of them.

    Returns:
        Prediction | list[Prediction]: `(label_map (H, W) uint8, probabilities (C, H, W) float32)` at the
        image's original size, background outside its field of view; a list for a list.
    """
    if not isinstance(model, Segmenter):
        raise UserError("inference_model: model must come from paddleseg_lite.init_model, got {}".format(
            type(model).__name__))
    return model(img)


def _config_and_weights(config, checkpoint):
    """(config file, weights) of `config`: a shipped model's files, or the file and `checkpoint` as given."""
    config = os.fspath(config)
    if config in pretrained.names():
        if checkpoint is not None:
            raise UserError("init_model({!r}, checkpoint={!r}): a shipped model brings its weights; leave "
                            "checkpoint out, or give a config file".format(config, checkpoint))
        shipped = pretrained.shipped_model(config, "init_model")
        return shipped.config, shipped.model_path
    hint = did_you_mean(config, pretrained.names())
    if not os.path.isfile(config) and hint:
        raise UserError("init_model({!r}): neither a config file nor a shipped model ({}).{}".format(
            config, ", ".join(pretrained.names()), hint))
    return config, checkpoint
