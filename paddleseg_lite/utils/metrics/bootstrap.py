"""Bootstrap 95% intervals over images for the pooled F1 and AUC.

A validation set of 20 DRIVE images gives one F1; how much would it move with another 20 images?
`bootstrap_ci` resamples the images with replacement (seeded, so the interval is reproducible),
recomputes the pooled F1 and AUC of each resample from per-image counts, and reports the 2.5 and
97.5 percentiles (percentile bootstrap).

Per image it needs the four vessel counts (tp, fp, fn, tn) and, for AUC, a coarse score histogram:
`BOOTSTRAP_BINS` (1024) bins per class, summed from the evaluation's fine AUC histogram of that
image, stored as int32: 8 KiB per image (8 MiB for 1,000 images), whatever the image size. The
interval's AUC thus ties scores within 1/1024 (the reported AUC itself uses the fine histogram).
"""
import numpy as np

from paddleseg_lite.utils.metrics.arrays import divide

BOOTSTRAP_BINS = 1024


def coarse_counts(counts, bins=BOOTSTRAP_BINS):
    """An AucHistogram-style (..., 2, B) counts array summed into `bins` equal-width bins (int32).

    B must be a multiple of `bins`, or at most `bins` (then returned unchanged).
    """
    counts = np.asarray(counts)
    if counts.shape[-1] <= bins:
        return counts.astype(np.int32)
    if counts.shape[-1] % bins:
        raise ValueError(f"coarse_counts: {counts.shape[-1]} bins are not a multiple of {bins}")
    return counts.reshape(counts.shape[:-1] + (bins, -1)).sum(-1).astype(np.int32)


def _resample_weights(num_images, resamples, seed):
    """Yields (r, num_images) float64 blocks, how often each image is drawn in each of r resamples;
    blocks of at most ~1M entries keep memory bounded for large validation sets."""
    rng = np.random.default_rng(seed)
    block = max(1, 1_000_000 // num_images)
    for start in range(0, resamples, block):
        rows = min(block, resamples - start)
        draws = rng.integers(0, num_images, size=(rows, num_images)) + np.arange(rows)[:, None] * num_images
        yield np.bincount(draws.ravel(), minlength=rows * num_images).reshape(rows, num_images).astype(np.float64)


def _f1(counts):
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    return divide(2 * tp, 2 * tp + fp + fn, 0.0)


def _auc(hist):
    """AUC per row of a (R, 2, bins) histogram array (ties within a bin count half), NaN without pairs."""
    neg, pos = hist[:, 0], hist[:, 1]
    neg_below = np.cumsum(neg, axis=1) - neg
    pairs = neg.sum(1) * pos.sum(1)
    return divide(np.sum(pos * (neg_below + 0.5 * neg), axis=1), pairs, float("nan"))


def bootstrap_ci(counts, hists=None, resamples=1000, seed=0, level=0.95):
    """Percentile-bootstrap interval over images of the pooled F1 (and AUC when `hists` are given).

    Args:
        counts (array): (N, 4) per-image (tp, fp, fn, tn) of the foreground class.
        hists (array | None): (N, 2, bins) per-image negative / positive score histograms.
        resamples (int): bootstrap resamples.
        seed (int): seeds the resampling (same inputs and seed, same interval).
        level (float): the interval's coverage.

    Returns:
        dict: 'dice': (low, high), and 'auc': (low, high) with `hists` (resamples whose AUC is
        undefined, no positive or no negative pixel, are left out).
    """
    counts = np.asarray(counts, np.float64)
    hists = None if hists is None else np.asarray(hists, np.float64)
    f1, auc = [], []
    for weights in _resample_weights(len(counts), resamples, seed):
        f1.append(_f1(weights @ counts))
        if hists is not None:
            pooled = weights @ hists.reshape(len(hists), -1)
            auc.append(_auc(pooled.reshape((len(weights),) + hists.shape[1:])))
    tails = 100 * np.array([(1 - level) / 2, (1 + level) / 2])
    result = {"dice": _interval(np.concatenate(f1), tails)}
    if hists is not None:
        result["auc"] = _interval(np.concatenate(auc), tails)
    return result


def _interval(values, tails):
    values = values[~np.isnan(values)]
    return tuple(float(v) for v in np.percentile(values, tails)) if values.size else (float("nan"), float("nan"))
