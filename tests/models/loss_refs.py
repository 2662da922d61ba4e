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


def focal(logits, label, ignore=255, alpha=0.25, gamma=2.0):
    nll = pixel_nll(logits, label, ignore)
    valid = label != ignore
    a = np.asarray(alpha, np.float64)[np.where(valid, label, 0)] if isinstance(alpha, list) else alpha
    return (a * (1 - np.exp(-nll)) ** gamma * nll * valid).sum() / valid.sum()


def bce(logits, label, ignore=255, pos_weight=1.0):
    """Sigmoid BCE; 2-channel logits use z = x1 - x0 (softmax[1] == sigmoid(x1 - x0))."""
    x = logits.astype(np.float64)
    z = x[:, 0] if x.shape[1] == 1 else x[:, 1] - x[:, 0]
    valid = label != ignore
    per_pixel = -(pos_weight * (label == 1) * np.log(sigmoid(z)) + (label == 0) * np.log(1 - sigmoid(z)))
    return (per_pixel * valid).sum() / valid.sum()


def components(foreground):
    """8-connected components by flood fill: a list of (row, col) coordinate arrays, in raster order."""
    seen, found = np.zeros_like(foreground, bool), []
    h, w = foreground.shape
    for start in zip(*np.nonzero(foreground)):
        if seen[start]:
            continue
        stack, pixels = [start], []
        seen[start] = True
        while stack:
            r, c = stack.pop()
            pixels.append((r, c))
            for dr, dc in np.ndindex(3, 3):
                rr, cc = r + dr - 1, c + dc - 1
                if 0 <= rr < h and 0 <= cc < w and foreground[rr, cc] and not seen[rr, cc]:
                    seen[rr, cc] = True
                    stack.append((rr, cc))
        found.append(np.array(pixels, np.float64))
    return found


def border_weights(label, w0=10.0, sigma=5.0, class_balance=True, ignore=255):
    """U-Net weight map by brute force: w_c + w0 exp(-(d1 + d2)^2 / 2 sigma^2) on background pixels."""
    valid = label != ignore
    weights = valid.astype(np.float64)
    if class_balance:
        present = np.unique(label[valid])
        for k in present:
            weights[valid & (label == k)] = valid.sum() / (len(present) * np.sum(valid & (label == k)))
    comps = components(valid & (label > 0))
    if len(comps) < 2:
        return weights
    for r, c in zip(*np.nonzero(valid & (label == 0))):
        d = sorted(np.sqrt(((comp - (r, c)) ** 2).sum(1)).min() for comp in comps)
        weights[r, c] += w0 * np.exp(-(d[0] + d[1]) ** 2 / (2 * sigma ** 2))
    return weights
