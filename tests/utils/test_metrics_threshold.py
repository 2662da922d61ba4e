"""The F1-maximising threshold from score-histogram counts, against a brute-force loop over thresholds."""
import numpy as np
import pytest

from paddleseg_lite.utils.metrics import AucHistogram
from paddleseg_lite.utils.metrics.threshold import best_f1_threshold


def _brute_f1(prob, label, t):
    pred = prob >= t
    tp, fp, fn = np.sum(pred & label), np.sum(pred & ~label), np.sum(~pred & label)
    return 2 * tp / (2 * tp + fp + fn)


@pytest.mark.parametrize("seed", range(4))
def test_matches_brute_force_over_every_edge(seed):
    rng = np.random.default_rng(seed)
    bins = 64
    label = rng.random(3000) < rng.uniform(0.05, 0.5)
    prob = np.clip(rng.normal(0.3 + 0.3 * label, 0.2), 0, 1).astype(np.float32)
    hist = AucHistogram(2, bins)
    hist.update(np.stack([1 - prob, prob])[:, None], label[None].astype(np.int64))
    tuned = best_f1_threshold(hist.counts)
    brute = [_brute_f1(prob, label, k / bins) for k in range(bins)]
    assert tuned["f1"] == pytest.approx(max(brute), abs=1e-12)
    assert _brute_f1(prob, label, tuned["threshold"]) == pytest.approx(max(brute), abs=1e-12)
    pred = prob >= tuned["threshold"]
    assert tuned["sensitivity"] == pytest.approx(np.sum(pred & label) / np.sum(label))
    assert tuned["specificity"] == pytest.approx(np.sum(~pred & ~label) / np.sum(~label))
    assert tuned["precision"] == pytest.approx(np.sum(pred & label) / np.sum(pred))
    assert (tuned["tp"], tuned["fp"]) == (np.sum(pred & label), np.sum(pred & ~label))


def test_power_of_two_bins_threshold_exactly_like_the_scores():
    """With 2^16 bins the histogram's F1 at edge k is the F1 of `prob >= k / 2^16` itself, even for scores
    one float32 step either side of an edge."""
    edge = 40000 / 65536
    prob = np.array([np.nextafter(np.float32(edge), np.float32(0)), np.float32(edge), 0.9, 0.1], np.float32)
    label = np.array([False, True, True, False])
    hist = AucHistogram(2, 65536)
    hist.update(np.stack([1 - prob, prob])[:, None], label[None].astype(np.int64))
    tuned = best_f1_threshold(hist.counts)
    assert tuned["f1"] == 1.0 and _brute_f1(prob, label, tuned["threshold"]) == 1.0


def test_ties_take_the_middle_of_the_gap():
    neg, pos = np.zeros(10, np.int64), np.zeros(10, np.int64)
    neg[1], pos[7] = 5, 5  # every edge 2..7 separates them perfectly
    assert best_f1_threshold(np.stack([neg, pos]))["threshold"] == pytest.approx(5 / 10)


def test_refuses_no_positives_and_bad_shapes():
    with pytest.raises(ValueError, match="no positive"):
        best_f1_threshold(np.stack([np.ones(8), np.zeros(8)]))
    with pytest.raises(ValueError, match="shape"):
        best_f1_threshold(np.ones((3, 8)))
