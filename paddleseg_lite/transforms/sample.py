"""The sample dict the transforms pass along, and the helpers that move its fields together.

A sample holds `img`, `label`, `fov`, `gt_fields` (the keys moved with `img` by geometric ops) and
`trans_info` (see docs/DESIGN.md). Geometric ops use NEAREST for every gt_field; padding fills `label`
with `label_padding_value` and other gt_fields (e.g. `fov`) with 0.
"""
import cv2

from paddleseg_lite.transforms import functional as F


# NEAREST is OpenCV's pixel-centre-aligned INTER_NEAREST_EXACT (PaddleSeg uses INTER_NEAREST, whose
# floor(x * scale) sampling shifts labels up to half a pixel against a LINEAR-resized image).
INTERP = {
    "NEAREST": cv2.INTER_NEAREST_EXACT,
    "LINEAR": cv2.INTER_LINEAR,
    "CUBIC": cv2.INTER_CUBIC,
    "AREA": cv2.INTER_AREA,
    "LANCZOS4": cv2.INTER_LANCZOS4,
}


# ----------------------------------------------------------------------------- sample dict helpers

def gt_fields(data):
    return list(data.get("gt_fields", []))


def fill_for(key, label_padding_value):
    """Padding value of a gt_field: `label_padding_value` for 'label', 0 for masks such as 'fov'."""
    return label_padding_value if key == "label" else 0


def with_info(data, op):
    """Copy of `data` with (op, (h, w)) of the current image appended to a new trans_info list."""
    out = dict(data)
    h, w = data["img"].shape[:2]
    out["trans_info"] = list(data.get("trans_info", [])) + [(op, (int(h), int(w)))]
    return out


def map_geometric(data, img_fn, field_fn):
    """New dict with img_fn(img) and field_fn(key, array) applied to every gt_field."""
    out = dict(data)
    out["img"] = img_fn(data["img"])
    for key in gt_fields(data):
        out[key] = field_fn(key, data[key])
    return out


def resize_all(data, size, interp):
    return map_geometric(data, lambda img: F.resize(img, size, interp),
                          lambda key, arr: F.resize(arr, size, INTERP["NEAREST"]))


def pad_all(data, pad_h, pad_w, im_value, label_value):
    return map_geometric(data, lambda img: F.pad(img, pad_h, pad_w, im_value),
                          lambda key, arr: F.pad(arr, pad_h, pad_w, fill_for(key, label_value)))


# ----------------------------------------------------------------------------- Compose
