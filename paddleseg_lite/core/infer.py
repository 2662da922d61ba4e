"""Inference on one (batch of) image(s): whole, sliding-window (optionally mirror-padded) and flip/scale TTA.

Sits between the model and the metrics / predictions: `core/val.py` and `core/predict.py` call
`inference` or `aug_inference` on a transformed image, get logits back at the image's original size
(`reverse_transform` undoes the Resize / Padding recorded in `trans_info`), then use `logits_to_pred`
and `logits_to_prob` (`models.outputs`, shared with the exported graph).
Works on paddle tensors only, so it runs on whatever device the model is on.
The caller puts the model in eval mode. A whole image that would not fit in memory is inferred
with sliding windows instead (`core/memory.py`).
"""
import math

import paddle
import paddle.nn.functional as F

from paddleseg_lite.core import memory
from paddleseg_lite.transforms.trans_info import undo_trans_info
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.validate import check_number, check_pair, is_number


def reverse_transform(logits, trans_info):
    """Maps N×C×H×W logits back through `trans_info` to the original image size (bilinear resizes;
    see `transforms.trans_info.undo_trans_info`)."""
    return undo_trans_info(logits, trans_info, lambda x, size: F.interpolate(
        x, size=size, mode="bilinear", align_corners=False))


def _run_model(model, im):
    """First logits of model(im) as float32, with the output contract checked."""
    outputs = model(im)
    if not isinstance(outputs, (list, tuple)) or len(outputs) == 0:
        raise TypeError(f"The model must return a non-empty list/tuple of logits (N×C×H×W), "
                        f"but returned {type(outputs).__name__}")
    logits = outputs[0].astype("float32")
    if logits.ndim != 4 or list(logits.shape[2:]) != list(im.shape[2:]):
        raise ValueError(f"The model must return N×C×H×W logits at input size {list(im.shape[2:])}, "
                         f"got shape {list(logits.shape)}")
    return logits


def _window_starts(size, crop, stride):
    """Start offsets of crop-sized windows covering [0, size), shifted back to stay inside."""
    count = 1 if size <= crop else math.ceil((size - crop) / stride) + 1
    return [max(min(i * stride + crop, size) - crop, 0) for i in range(count)]


def _mirror_margin(size, crop, stride):
    """Reflect-padding margin on one axis: half the window overlap, at least 8, less than size."""
    return min(max((crop - stride) // 2, 8), size - 1)


def _batched_windows(model, im, windows, crop_h, crop_w):
    """[((top, left), N×C×h×w logits)] of `windows` (all the same size), run in one forward pass."""
    crops = [im[:, :, top:top + crop_h, left:left + crop_w] for top, left in windows]
    logits = _run_model(model, paddle.concat(crops, axis=0) if len(crops) > 1 else crops[0])
    return zip(windows, paddle.split(logits, len(crops), axis=0))


@paddle.no_grad()
def slide_inference(model, im, crop_size, stride, mirror_pad=False):
    """Sliding-window inference; overlapping logits are averaged. Several windows go through the model
    in one call (one batch), as many as fit in memory up to `core.memory.WINDOW_BATCH`.

    Args:
        model (paddle.nn.Layer): returns a list of logits at input size.
        im (Tensor): N×C_in×H×W.
        crop_size (tuple): window (w, h); the window is the whole image when the image is smaller.
        stride (tuple): step (w, h).
        mirror_pad (bool): U-Net overlap-tile: reflect-pad the borders by half the overlap (at
            least 8 px), slide over the padded image, then crop the margin away.

    Returns:
        Tensor: N×C×H×W float32 logits.

    Raises:
        UserError: crop_size / stride are not two positive integers, or the windows would not fit in
            memory (`core.memory.check_window`).
        RuntimeError: some pixel is covered by no window (stride much larger than crop_size).
    """
    crop_w, crop_h = check_pair(None, "test_config.crop_size (--crop_size)", crop_size, error=UserError)
    stride_w, stride_h = check_pair(None, "test_config.stride (--stride)", stride, error=UserError)
    memory.check_window(model, im, (crop_w, crop_h), _run_model)
    height, width = im.shape[2], im.shape[3]
    margin_h = margin_w = 0
    if mirror_pad:
        margin_h = _mirror_margin(height, crop_h, stride_h)
        margin_w = _mirror_margin(width, crop_w, stride_w)
        im = F.pad(im, [margin_w, margin_w, margin_h, margin_h], mode="reflect")
    windows = [(top, left) for top in _window_starts(im.shape[2], crop_h, stride_h)
               for left in _window_starts(im.shape[3], crop_w, stride_w)]
    per_call = memory.window_batch(model, im, (crop_w, crop_h), _run_model)
    total, count = None, paddle.zeros([1, 1, im.shape[2], im.shape[3]], dtype="float32")
    for start in range(0, len(windows), per_call):
        for (top, left), logits in _batched_windows(model, im, windows[start:start + per_call], crop_h, crop_w):
            bottom, right = min(top + crop_h, im.shape[2]), min(left + crop_w, im.shape[3])
            if total is None:
                total = paddle.zeros([im.shape[0], logits.shape[1], *im.shape[2:]], "float32")
            total[:, :, top:bottom, left:right] += logits
            count[:, :, top:bottom, left:right] += 1
    if bool((count == 0).any()):
        raise RuntimeError(f"There are pixels not predicted by slide inference: stride "
                           f"{tuple(stride)} leaves gaps between crop_size {tuple(crop_size)} "
                           f"windows; use stride <= crop_size")
    logits = total / count
    return logits[:, :, margin_h:margin_h + height, margin_w:margin_w + width]


def _infer(model, im, is_slide, stride, crop_size, mirror_pad):
    """Whole-image or slide logits at the input size; sliding windows when a whole-image forward pass
    would not fit in memory (`core.memory.whole_image_window`)."""
    window = None if is_slide else memory.whole_image_window(model, im, _run_model)
    if window:
        is_slide, (crop_size, stride) = True, window
    if is_slide:
        return slide_inference(model, im, crop_size, stride, mirror_pad)
    return _run_model(model, im)


@paddle.no_grad()
def inference(model, im, trans_info=None, is_slide=False, stride=None, crop_size=None,
              mirror_pad=False):
    """Logits of one transformed image (batch), mapped back to the original size.

    Args:
        model (paddle.nn.Layer): returns a list of logits at input size (eval mode set by caller).
        im (Tensor): N×C_in×H×W transformed image.
        trans_info (list | None): the dataset's ``(op, (h, w))`` list; None keeps the input size.
        is_slide (bool): sliding-window inference with `crop_size` / `stride` ((w, h) each); also
            used, with windows that fit, when a whole-image pass would not (`core.memory`).
        mirror_pad (bool): reflect-pad the borders during slide inference (see `slide_inference`).

    Returns:
        Tensor: N×C×h0×w0 float32 logits (use `logits_to_pred` / `logits_to_prob`).
    """
    logits = _infer(model, im, is_slide, stride, crop_size, mirror_pad)
    return reverse_transform(logits, trans_info)


def _flips(flip_horizontal, flip_vertical):
    """Flip axes per augmentation: [] then [3] (horizontal), [2] and [2, 3] (vertical)."""
    flips = [[]]
    if flip_horizontal:
        flips.append([3])
    if flip_vertical:
        flips += [[2], [2, 3]]
    return flips


@paddle.no_grad()
def aug_inference(model, im, trans_info=None, scales=1.0, flip_horizontal=False,
                  flip_vertical=False, is_slide=False, stride=None, crop_size=None, mirror_pad=False):
    """Test-time augmentation: average logits over scales × flips, then map back to the original size.

    For each scale the input is resized bilinearly to (int(H*s+.5), int(W*s+.5)); for each flip
    the input is flipped, inferred, unflipped and resized back to H×W. The sum is divided by the
    number of augmentations.

    Args:
        scales (float | list[float]): resize factors.
        flip_horizontal (bool): add a left-right flip.
        flip_vertical (bool): add an up-down and an up-down+left-right flip.
        Others: as in `inference`.

    Returns:
        Tensor: N×C×h0×w0 float32 logits.
    """
    scales = [scales] if is_number(scales) else list(scales)
    if not scales:
        raise UserError("test_config.scales (--scales) must be positive numbers, got []")
    for scale in scales:
        check_number(None, "test_config.scales (--scales)", scale, low=0, low_open=True, error=UserError)
    height, width = im.shape[2], im.shape[3]
    total, flips = 0, _flips(flip_horizontal, flip_vertical)
    for scale in scales:
        size = (int(height * scale + 0.5), int(width * scale + 0.5))
        scaled = im if size == (height, width) else F.interpolate(
            im, size=size, mode="bilinear", align_corners=False)
        for axes in flips:
            flipped = paddle.flip(scaled, axes) if axes else scaled
            logits = _infer(model, flipped, is_slide, stride, crop_size, mirror_pad)
            logits = paddle.flip(logits, axes) if axes else logits
            if size != (height, width):
                logits = F.interpolate(logits, size=(height, width), mode="bilinear",
                                       align_corners=False)
            total = total + logits
    return reverse_transform(total / (len(scales) * len(flips)), trans_info)
