"""`Compose`: reads a sample's files, runs a transform chain, returns CHW float32 and integer gt_fields."""
import numpy as np

from paddleseg_lite.transforms import io
from paddleseg_lite.transforms.sample import gt_fields
from paddleseg_lite.utils.validate import check_choice


class Compose:
    """Read a sample's files, run the ops in order and return model-ready arrays.

    Not itself registered: datasets wrap their `transforms:` list in it.

    A path `img` is read with OpenCV (grayscale for 1 channel) as float32 and
    converted BGR -> RGB when `to_rgb`; an array `img` is taken as RGB already.
    A path `label` (or any path gt_field) is read as stored class ids (palette
    PNGs give their indices); a path `fov` is binarised to 0/1.

    Args:
        transforms (list): The ops, applied in order.
        to_rgb (bool): Convert images read from files from BGR to RGB. Default: True.
        img_channels (int): 1 or 3; images read from files get this many channels. Default: 3.

    Returns (of __call__):
        dict: `img` (C, H, W) float32; `label` (H, W) int64; `fov` (H, W) uint8;
        other gt_fields int64; `trans_info` a new list.
    """

    def __init__(self, transforms, to_rgb=True, img_channels=3):
        if not isinstance(transforms, (list, tuple)):
            raise TypeError("Compose: transforms must be a list of transforms, got {}.".format(
                type(transforms).__name__))
        for i, op in enumerate(transforms):
            if not callable(op):
                raise TypeError("Compose: transforms[{}] is a {}, not a transform; give each item a "
                                "`type:` key.".format(i, type(op).__name__))
        check_choice("Compose", "img_channels", img_channels, (1, 3))
        self.transforms = list(transforms)
        self.to_rgb = bool(to_rgb)
        self.img_channels = img_channels

    def __call__(self, data):
        data = self._load(data)
        for op in self.transforms:
            data = op(data)
        return self._finish(data)

    def _load(self, data):
        if "img" not in data:
            raise ValueError("Compose: the sample dict has no 'img' key.")
        out = dict(data)
        out["trans_info"] = list(data.get("trans_info", []))
        out["gt_fields"] = gt_fields(data)
        out["img"] = self._load_img(data["img"])
        for key in self._field_keys(out):
            out[key] = self._load_field(key, data[key], data["img"], out["img"].shape[:2])
        return out

    def _load_img(self, img):
        if isinstance(img, str):
            return io.read_image(img, self.img_channels, self.to_rgb)
        if not isinstance(img, np.ndarray):
            raise TypeError("Compose: 'img' must be a file path or a numpy array, got {}.".format(
                type(img).__name__))
        arr = img[:, :, np.newaxis] if img.ndim == 2 else img
        if arr.ndim != 3 or arr.shape[2] != self.img_channels:
            raise ValueError("Compose: the input image array has shape {} but img_channels is {}; "
                             "pass an HxWx{} array or set img_channels.".format(
                                 img.shape, self.img_channels, self.img_channels))
        return arr.astype(np.float32)

    @staticmethod
    def _field_keys(data):
        keys = list(data["gt_fields"])
        if data.get("label") is not None and "label" not in keys:
            keys.append("label")
        for key in keys:
            if data.get(key) is None:
                raise ValueError("Compose: gt_fields names '{}' but the sample has no '{}'.".format(key, key))
        return keys

    @staticmethod
    def _load_field(key, value, img_source, img_hw):
        if isinstance(value, str):
            arr = io.read_gt(key, value)
        elif isinstance(value, np.ndarray):
            arr = value[:, :, 0] if value.ndim == 3 and value.shape[2] == 1 else value
            if arr.ndim != 2:
                raise ValueError("Compose: '{}' must be an HxW array, got shape {}.".format(key, value.shape))
        else:
            raise TypeError("Compose: '{}' must be a file path or a numpy array, got {}.".format(
                key, type(value).__name__))
        io.check_same_size(key, value, arr, img_source, img_hw)
        return arr

    @staticmethod
    def _finish(data):
        out = dict(data)
        img = data["img"][:, :, np.newaxis] if data["img"].ndim == 2 else data["img"]
        out["img"] = np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)
        for key in Compose._field_keys(data):
            dtype = np.uint8 if key == "fov" else np.int64
            out[key] = np.array(data[key], dtype=dtype)  # always a copy: never the caller's array
        return out


# ----------------------------------------------------------------------------- resizing
