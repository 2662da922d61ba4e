"""Helpers shared by the losses: label/ignore masks, binary logits, class-weight tensors.

Every loss gets `logits` N x C x H x W and `label` N x H x W (int) and must not
modify either; these helpers only build new tensors.
"""
import paddle
import paddle.nn.functional as F

from paddleseg_lite.utils import logger
from paddleseg_lite.utils.labels import check_label_values, is_sigmoid, num_classes_of, squeeze_label

EPS = 1e-8


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
