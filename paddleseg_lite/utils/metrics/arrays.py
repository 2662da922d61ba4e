"""Array helpers the metrics share: numpy conversion, shape matching, safe division, the pixels to count."""
import numpy as np

from paddleseg_lite.utils.labels import check_label_values, squeeze_label


def to_numpy(x):
    """Returns `x` (numpy array, paddle Tensor or nested list) as a numpy array."""
    if hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x)


def match_shape(x, shape, what, target="the label shape"):
    """`x` reshaped to `shape` when they differ only by singleton axes; ValueError naming `what` otherwise."""
    if x.shape == tuple(shape):
        return x
    if [d for d in x.shape if d != 1] != [d for d in shape if d != 1]:
        raise ValueError(f"Shape of {what} {x.shape} does not match {target} {tuple(shape)}")
    return x.reshape(shape)


def divide(num, den, empty_value):
    """Elementwise num/den in float64, with `empty_value` where den == 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, float(empty_value))
    np.divide(num, den, out=out, where=den != 0)
    return out


def valid_labels(label, num_classes, ignore_index, mask, where):
    """Boolean (label-shaped) of the pixels to count; rejects labels outside [0, C) that are not ignored.

    Raises:
        UserError: a label value is neither a class id nor `ignore_index` (message starts with `where`).
    """
    valid = label != ignore_index
    if mask is not None:
        valid &= match_shape(to_numpy(mask), label.shape, "mask").astype(bool)
    check_label_values(label[valid], num_classes, ignore_index, where)
    return valid


def whole_image_label(label, fov):
    """Label for whole-image metrics: outside-FOV pixels (fov == 0) become true background (0).

    Args:
        label (array): H×W (or N×H×W / N×1×H×W) class ids.
        fov (array | None): same shape, 1 inside the field of view; None returns `label` unchanged.
            Inside the FOV, `ignore_index` pixels keep their value (stay ignored).

    Returns:
        np.ndarray: a new label array (the input is not modified).
    """
    label = squeeze_label(to_numpy(label))
    if fov is None:
        return label
    fov = match_shape(to_numpy(fov), label.shape, "fov")
    return np.where(fov.astype(bool), label, 0).astype(label.dtype)
