"""Helpers shared by the losses: argument checks, label/ignore masks, binary logits.

Every loss gets `logits` N x C x H x W and `label` N x H x W (int) and must not
modify either; these helpers only build new tensors.
"""
import numbers

import paddle
import paddle.nn.functional as F

from paddleseg_lite.utils import logger
from paddleseg_lite.utils.labels import check_label_values, is_sigmoid, num_classes_of, squeeze_label

EPS = 1e-8


def check_class_weight(name, weight):
    """Validate a constructor's class `weight` (None or a list of numbers >= 0); return a list or None."""
    if weight is None:
        return None
    if isinstance(weight, (str, bytes)) or not hasattr(weight, '__len__'):
        raise TypeError("{}: weight must be a list with one number per class, got {!r}.".format(name, weight))
    weight = list(weight)
    if not weight or not all(isinstance(w, numbers.Real) and not isinstance(w, bool) for w in weight):
        raise TypeError("{}: weight must be a non-empty list of numbers, got {!r}.".format(name, weight))
    if min(weight) < 0:
        raise ValueError("{}: class weights must be >= 0, got {}.".format(name, weight))
    return [float(w) for w in weight]


def check_number(name, arg, value, low=None, low_inclusive=True):
    """Raise TypeError/ValueError unless `value` is a real number above `low`; return it as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError("{}: {} must be a number, got {!r}.".format(name, arg, value))
    if low is not None and (value < low or (value == low and not low_inclusive)):
        raise ValueError("{}: {} must be {} {}, got {}.".format(name, arg, '>=' if low_inclusive else '>', low, value))
    return float(value)


def check_int(name, arg, value, low):
    """Raise TypeError/ValueError unless `value` is an int >= `low`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError("{}: {} must be an integer, got {!r}.".format(name, arg, value))
    if value < low:
        raise ValueError("{}: {} must be >= {}, got {}.".format(name, arg, low, value))
    return int(value)


def weight_tensor(name, weight, num_classes):
    """Return `weight` as a float32 tensor after checking its length against the logits' classes."""
    if len(weight) != num_classes:
        raise ValueError("{}: weight has {} entries but the model outputs {} classes; give one weight per "
                         "class (model.num_classes).".format(name, len(weight), num_classes))
    return paddle.to_tensor(weight, dtype='float32')


def prepare(loss, logits, label):
    """Check shapes and labels; return (label as int64 N x H x W, float mask of non-ignored pixels).

    A N x 1 x H x W label is accepted and squeezed. Labels outside [0, C) that are
    not `loss.ignore_index` (C = 2 for 1-channel logits) raise a UserError. Warns once
    when `ignore_index` is itself a class id.
    """
    name = type(loss).__name__
    if logits.ndim != 4:
        raise ValueError("{}: logits must be N x C x H x W, got shape {}.".format(name, list(logits.shape)))
    label = squeeze_label(label)
    if list(label.shape) != [logits.shape[0]] + list(logits.shape[2:]):
        raise ValueError("{}: label shape {} does not match logits {} (expected N x H x W).".format(
            name, list(label.shape), list(logits.shape)))
    label = label.astype('int64')
    num_classes = num_classes_of(logits.shape[1])
    ignore = loss.ignore_index
    if 0 <= ignore < num_classes and not getattr(loss, '_warned_ignore', False):
        logger.warning("{}: ignore_index {} is a class id (num_classes {}); those pixels are ignored.".format(
            name, ignore, num_classes))
        loss._warned_ignore = True
    valid = label != ignore
    _check_label_values(name, label, valid, num_classes, ignore)
    return label, valid.astype('float32')


def _check_label_values(name, label, valid, num_classes, ignore):
    if not paddle.in_dynamic_mode():
        return  # a static graph (static/trainer.py) checks the fed numpy labels itself
    values = paddle.masked_select(label, valid)
    if values.numel() == 0:
        return
    # the smallest and largest values decide; only two numbers leave the device
    check_label_values([int(values.min()), int(values.max())], num_classes, ignore, name)


def safe_label(label, mask):
    """The label with ignored pixels set to class 0 (a new tensor), for indexing."""
    return label * mask.astype('int64')


def as_two_class(logits):
    """Read a 1-channel logit z as the two-class logits [0, z] (softmax gives sigmoid(z) for class 1)."""
    if not is_sigmoid(logits):
        return logits
    return paddle.concat([paddle.zeros_like(logits), logits], axis=1)


def foreground_probability(logits):
    """P(foreground) N x H x W: sigmoid for 1 channel, else 1 - softmax[:, 0] (any non-background class)."""
    if is_sigmoid(logits):
        return F.sigmoid(logits[:, 0])
    return 1.0 - F.softmax(logits, axis=1)[:, 0]


def pixel_nll(logits, label, mask):
    """Per-pixel cross entropy N x H x W (0 at ignored pixels); a 1-channel logit is read as binary."""
    logp = F.log_softmax(as_two_class(logits), axis=1)
    picked = paddle.take_along_axis(logp, safe_label(label, mask).unsqueeze(1), axis=1).squeeze(1)
    return -picked * mask
