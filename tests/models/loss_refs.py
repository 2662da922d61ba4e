"""Plain-numpy reference implementations of the losses, for the loss tests."""
import numpy as np


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def two_class(logits):
    return np.concatenate([np.zeros_like(logits), logits], axis=1) if logits.shape[1] == 1 else logits


def pixel_nll(logits, label, ignore):
    probs = softmax(two_class(logits).astype(np.float64))
    n, _, h, w = probs.shape
    out = np.zeros((n, h, w))
    for i, y, x in np.ndindex(n, h, w):
        if label[i, y, x] != ignore:
            out[i, y, x] = -np.log(probs[i, label[i, y, x], y, x])
    return out


def dice(logits, label, ignore=255, smooth=1.0, weight=None):
    c = logits.shape[1]
    mask = (label != ignore)[:, None].astype(np.float64)
    if c == 1:
        p, y = sigmoid(logits.astype(np.float64)), (label == 1)[:, None].astype(np.float64)
    else:
        p = softmax(logits.astype(np.float64))
        y = np.stack([(label == k) for k in range(c)], axis=1).astype(np.float64)
    p, y = p * mask, y * mask
    d = 1 - (2 * (p * y).sum((2, 3)) + smooth) / ((p + y).sum((2, 3)) + smooth + 1e-8)
    d = d.mean(0) * (np.asarray(weight) if weight is not None else 1)
    return d.sum() / c


def cross_entropy(logits, label, ignore=255, weight=None, avg_non_ignore=True, top_k=1.0):
    nll = pixel_nll(logits, label, ignore)
    valid = (label != ignore).astype(np.float64)
    pix_w = np.asarray(weight)[np.where(label == ignore, 0, label)] if weight is not None else np.ones_like(nll)
    loss = nll * pix_w
    coef = valid * (pix_w if weight is not None else 1) if avg_non_ignore else np.ones_like(nll)
    if top_k == 1.0:
        return loss.mean() / (coef.mean() + 1e-8)
    k = max(1, int(top_k * loss.size))
    order = np.argsort(-loss.ravel(), kind='stable')[:k]
    return loss.ravel()[order].mean() / (coef.ravel()[order].mean() + 1e-8)


def lovasz_softmax(logits, label, ignore=255):
    probs = softmax(two_class(logits).astype(np.float64))
    c = probs.shape[1]
    probs = probs.transpose(0, 2, 3, 1).reshape(-1, c)
    label = label.ravel()
    probs, label = probs[label != ignore], label[label != ignore]
    losses = []
    for k in range(c):
        fg = (label == k).astype(np.float64)
        if fg.sum() == 0:
            continue
        errors = np.abs(fg - probs[:, k])
        order = np.argsort(-errors, kind='stable')
        errors, fg = errors[order], fg[order]
        jaccard = 1 - (fg.sum() - np.cumsum(fg)) / (fg.sum() + np.cumsum(1 - fg))
        jaccard[1:] = jaccard[1:] - jaccard[:-1]
        losses.append(errors @ jaccard)
    return np.mean(losses)


def erode(x):
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=np.inf)
    vertical = np.minimum(np.minimum(p[:, :, :-2, 1:-1], p[:, :, 1:-1, 1:-1]), p[:, :, 2:, 1:-1])
    horizontal = np.minimum(np.minimum(p[:, :, 1:-1, :-2], p[:, :, 1:-1, 1:-1]), p[:, :, 1:-1, 2:])
    return np.minimum(vertical, horizontal)


def dilate(x):
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    h, w = x.shape[2:]
    return np.max([p[:, :, i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=0)


def skeleton(x, iters):
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    skel = relu(x - dilate(erode(x)))
    for _ in range(iters):
        x = erode(x)
        delta = relu(x - dilate(erode(x)))
        skel = skel + relu(delta - skel * delta)
    return skel


def cldice(logits, label, ignore=255, iters=3, smooth=1.0):
    mask = (label != ignore).astype(np.float64)[:, None]
    if logits.shape[1] == 1:
        p = sigmoid(logits.astype(np.float64))
    else:
        p = 1 - softmax(logits.astype(np.float64))[:, :1]
    p = p * mask
    y = ((label > 0) & (label != ignore)).astype(np.float64)[:, None]
    sp, sy = skeleton(p, iters), skeleton(y, iters)
    tprec = ((sp * y).sum() + smooth) / (sp.sum() + smooth)
    tsens = ((sy * p).sum() + smooth) / (sy.sum() + smooth)
    return 1 - 2 * tprec * tsens / (tprec + tsens)
