"""Bootstrap intervals over images: contain the pooled value, reproducible with the seed, agree with a
plain resampling loop, and the coarse per-image histograms keep every count."""
import numpy as np
import pytest

from paddleseg_lite.utils import metrics


def per_image_data(num_images=12, seed=0):
    """Per-image (tp, fp, fn, tn) and fine 2×256 score histograms of random images with varied quality."""
    rng = np.random.default_rng(seed)
    counts, hists = [], []
    for _ in range(num_images):
        label = rng.random(400) < rng.uniform(0.05, 0.3)
        score = np.clip(rng.normal(0.3 + rng.uniform(0.1, 0.5) * label, 0.2), 0, 1 - 1e-9)
        pred = score > 0.5
        counts.append([np.sum(pred & label), np.sum(pred & ~label), np.sum(~pred & label), np.sum(~pred & ~label)])
        index = (score * 256).astype(int)
        hists.append([np.bincount(index[~label], minlength=256), np.bincount(index[label], minlength=256)])
    return np.array(counts), np.array(hists)


def pooled_f1(counts):
    tp, fp, fn, _ = counts.sum(0)
    return 2 * tp / (2 * tp + fp + fn)


def test_interval_contains_the_pooled_values_and_is_reproducible():
    counts, hists = per_image_data()
    ci = metrics.bootstrap_ci(counts, hists, resamples=500, seed=3)
    pooled = hists.sum(0)
    assert ci["dice"][0] < pooled_f1(counts) < ci["dice"][1]
    assert ci["auc"][0] < metrics.histogram_auc(*pooled) < ci["auc"][1]
    assert metrics.bootstrap_ci(counts, hists, resamples=500, seed=3) == ci
    assert metrics.bootstrap_ci(counts, hists, resamples=500, seed=4) != ci
    assert set(metrics.bootstrap_ci(counts, resamples=50)) == {"dice"}


def test_interval_agrees_with_a_plain_resampling_loop():
    counts, hists = per_image_data(num_images=15, seed=1)
    rng = np.random.default_rng(123)
    f1, auc = [], []
    for _ in range(4000):
        pick = rng.integers(0, len(counts), len(counts))
        f1.append(pooled_f1(counts[pick]))
        auc.append(metrics.histogram_auc(*hists[pick].sum(0)))
    ci = metrics.bootstrap_ci(counts, hists, resamples=4000, seed=0)
    assert ci["dice"] == pytest.approx(tuple(np.percentile(f1, [2.5, 97.5])), abs=0.006)
    assert ci["auc"] == pytest.approx(tuple(np.percentile(auc, [2.5, 97.5])), abs=0.006)


def test_coarse_counts_sum_neighbouring_bins():
    fine = np.arange(2 * 4096).reshape(2, 4096)
    coarse = metrics.coarse_counts(fine)
    assert coarse.shape == (2, 1024) and coarse.dtype == np.int32
    assert coarse[1, 5] == fine[1, 20:24].sum() and coarse.sum() == fine.sum()
    assert metrics.coarse_counts(fine[:, :16]).shape == (2, 16)   # already coarse: unchanged
    with pytest.raises(ValueError, match="1500 bins are not a multiple of 1024"):
        metrics.coarse_counts(np.zeros((2, 1500)))


def test_evaluator_bootstrap_needs_two_images():
    ev = metrics.SegEvaluator(2, auc_bins=2048)
    label = np.array([[0, 1, 1, 0]])
    prob = np.array([[[0.8, 0.3, 0.9, 0.2]]])
    ev.update((prob[0] > 0.5).astype(int), label, prob=np.concatenate([1 - prob, prob]))
    assert ev.bootstrap() == {}
    ev.update((prob[0] > 0.5).astype(int), label, prob=np.concatenate([1 - prob, prob]))
    assert ev.samples[0]["hist"].shape == (2, 1024) and ev.samples[0]["counts"] == (1, 1, 1, 1)
    # two identical images: every resample is the pooled image, F1 2/4; AUC: positives 0.3, 0.9 above
    # negatives 0.8, 0.2 in 3 of 4 pairs
    assert ev.bootstrap() == {"dice": (0.5, 0.5), "auc": (0.75, 0.75)}
