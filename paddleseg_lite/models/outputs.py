"""How a segmentation model's logits become probabilities and class ids: the one rule that evaluation and
prediction (`core.infer` re-exports these), the exported inference graph (`deploy.export`) and the deploy
script (deploy/python/infer.py) share.

Without a decision threshold a pixel's class is the argmax over classes (sigmoid > 0.5 for a 1-channel
model), as in PaddleSeg. With a threshold t (binary models only: 2 classes or 1 sigmoid channel; tuned
by `tools/val.py --threshold auto`) a pixel is foreground (class 1) where its foreground probability,
as `logits_to_prob` computes it, is >= t, so a saved probability map and the prediction always agree.
"""
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
