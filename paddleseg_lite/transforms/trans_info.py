"""`trans_info`: the record of the size-changing transforms of a sample, and undoing it.

Resize / ResizeByLong / ResizeByShort / Padding append `(op, (h, w))` with the size *before* them
(op 'resize' or 'padding'); `undo_trans_info` walks the record backwards to map a prediction back to
the image's original size. Every caller (evaluation, prediction, the deploy script) undoes it here,
with the resize that suits its data (bilinear for logits, nearest for class ids).
"""
import numpy as np


def _as_int(value):
    """int() of a Python number, numpy scalar or 1-element tensor/array (collated trans_info)."""
    return int(np.asarray(value).reshape(-1)[0])


def undo_trans_info(x, trans_info, resize):
    """Map `x` (..., H, W: an array or a tensor) back through `trans_info`, newest transform first.

    Args:
        x: The prediction at the transformed size; the last two axes are H, W.
        trans_info (list | None): `(op, (h, w))` items.
        resize (callable): `resize(x, (h, w))` for the 'resize' items.

    Returns:
        `x` at the original size: 'resize' items resize, 'padding' items crop to [:h, :w].

    Raises:
        ValueError: an op other than 'resize' / 'padding'.
    """
    for op, size in reversed(list(trans_info or [])):
        h, w = _as_int(size[0]), _as_int(size[1])
        if op == "resize":
            x = resize(x, (h, w))
        elif op == "padding":
            x = x[..., :h, :w]
        else:
            raise ValueError("Unexpected trans_info op {!r}; only 'resize' and 'padding' are supported".format(op))
    return x
