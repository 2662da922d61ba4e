"""How a segmentation model's logits become probabilities and class ids: the one rule that evaluation and
prediction (`core.infer` re-exports these), the exported inference graph (`deploy.export`) and the deploy
script (deploy/python/infer.py) share.

Without a decision threshold a pixel's class is the argmax over classes (sigmoid > 0.5 for a 1-channel
model), as in PaddleSeg. With a threshold t (binary models only: 2 classes or 1 sigmoid channel; tuned
by `tools/val.py --threshold auto`) a pixel is foreground (class 1) where its foreground probability,
as `logits_to_prob` computes it, is >= t, so a saved probability map and the prediction always agree.
`mean_prob_logits` goes the other way for an ensemble (`models.ensemble`): logits whose probabilities are the
mean of its members', which the rules above then decide.
"""
import math

import paddle
import paddle.nn.functional as F

from paddleseg_lite.utils.labels import is_sigmoid


def logits_to_prob(logits):
    """Class probabilities: softmax over classes, or [1 - p, p] with p = sigmoid for a binary model.

    Args:
        logits (Tensor): N×C×H×W.

    Returns:
        Tensor: N×max(C, 2)×H×W float32, so a binary model looks like a 2-class one.
    """
    logits = logits.astype("float32")
    if is_sigmoid(logits):
        p = F.sigmoid(logits)
        return paddle.concat([1 - p, p], axis=1)
    return F.softmax(logits, axis=1)


def logits_to_log_prob(logits):
    """log(`logits_to_prob(logits)`), computed stably (log-softmax; [log sigmoid(-z), log sigmoid(z)] for a
    1-channel model).

    Returns:
        Tensor: N×max(C, 2)×H×W float32.
    """
    logits = logits.astype("float32")
    if is_sigmoid(logits):
        logits = paddle.concat([paddle.zeros_like(logits), logits], axis=1)  # softmax([0, z]) = [1 - p, p]
    return F.log_softmax(logits, axis=1)


def mean_prob_logits(member_logits):
    """Logits whose probabilities are the mean of the probabilities of `member_logits` (an ensemble), and whose
    argmax / `logits_to_pred` decide as the mean itself does.

    They are the log of the mean, log(sum_m p_m) - log k, taken in log space so that no probability is rounded
    to 0 first: log-sum-exp over members as max_m(a_m) - max_m(log_softmax_m(a)), both at the same member, the
    largest, so nothing cancels. softmax(log p) = p to float32 rounding. (`paddle.log` is avoided: it cannot
    be traced into the old program format export uses.) A 1-channel (sigmoid) model gets log p1 - log p0, whose
    sigmoid is p1.

    Args:
        member_logits (list[Tensor]): N×C×H×W logits of each member, the same C.

    Returns:
        Tensor: N×C×H×W float32.
    """
    log_probs = paddle.stack([logits_to_log_prob(logits) for logits in member_logits], axis=0)
    log_sum = paddle.max(log_probs, axis=0) - paddle.max(F.log_softmax(log_probs, axis=0), axis=0)
    log_mean = log_sum - math.log(len(member_logits))
    if is_sigmoid(member_logits[0]):
        return log_mean[:, 1:2] - log_mean[:, 0:1]
    return log_mean


def prob_to_pred(prob, threshold):
    """Class ids of a binary model at a decision threshold: 1 where prob[:, 1] >= threshold.

    Args:
        prob (Tensor): N×2×H×W probabilities (`logits_to_prob`).
        threshold (float): In [0, 1].

    Returns:
        Tensor: N×1×H×W int32.

    Raises:
        ValueError: `prob` has not two classes (a threshold has no meaning for several classes).
    """
    if prob.shape[1] != 2:
        raise ValueError("a decision threshold needs a binary model (2 classes or 1 sigmoid channel); the "
                         "model outputs {} classes".format(prob.shape[1]))
    return (prob[:, 1:2] >= threshold).astype("int32")


def logits_to_pred(logits, threshold=None):
    """Class ids from logits: argmax over classes (sigmoid > 0.5 for a 1-channel model), or, with a
    `threshold`, foreground where the foreground probability is >= threshold (`prob_to_pred`).

    Args:
        logits (Tensor): N×C×H×W.
        threshold (float, optional): Decision threshold of a binary model; None: argmax.

    Returns:
        Tensor: N×1×H×W int32 (0/1 for a binary model).
    """
    if threshold is not None:
        return prob_to_pred(logits_to_prob(logits), threshold)
    if is_sigmoid(logits):
        return (F.sigmoid(logits) > 0.5).astype("int32")
    return paddle.argmax(logits, axis=1, keepdim=True).astype("int32")
