"""Metrics against explicit per-pixel numpy references on small hand-made data."""
import os
import stat

import numpy as np
import paddle
import pytest

from paddleseg_lite.utils import metrics
from paddleseg_lite.utils.errors import UserError

IGNORE = 255


def reference_areas(pred, label, num_classes, ignore_index=IGNORE):
    """PaddleSeg's definition written as per-class masks."""
    mask = label != ignore_index
    inter, pred_area, label_area = [], [], []
    for i in range(num_classes):
        pred_i = (pred == i) & mask
        label_i = label == i
        inter.append(int((pred_i & label_i).sum()))
        pred_area.append(int(pred_i.sum()))
        label_area.append(int(label_i.sum()))
    return np.array(inter), np.array(pred_area), np.array(label_area)


def reference_binary(pred, label, counted, fg=1):
    """TP/FP/FN/TN by looping over pixels."""
    tp = fp = fn = tn = 0
    for p, t, c in zip(pred.ravel(), label.ravel(), counted.ravel()):
        if not c:
            continue
        tp += p == fg and t == fg
        fp += p == fg and t != fg
        fn += p != fg and t == fg
        tn += p != fg and t != fg
    return tp, fp, fn, tn


def exact_auc(scores, positive):
    """Mann-Whitney AUC over all positive/negative pairs, ties counting half."""
    pos, neg = scores[positive], scores[~positive]
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return (greater + 0.5 * ties) / (pos.size * neg.size)


@pytest.fixture
def four_class_case():
    """C=4: class 3 never appears (union 0), ignore pixels carry wrong predictions."""
    label = np.array([[0, 0, 1, 1, 2],
                      [0, 1, 1, 2, 2],
                      [255, 255, 0, 1, 2]])
    pred = np.array([[0, 1, 1, 1, 2],
                     [0, 0, 1, 2, 0],
                     [2, 1, 0, 1, 2]])
    return pred, label


def test_calculate_area_matches_mask_definition(four_class_case):
    pred, label = four_class_case
    got = metrics.calculate_area(pred, label, 4)
    want = reference_areas(pred, label, 4)
    for g, w in zip(got, want):
        assert g.dtype == np.int64
        np.testing.assert_array_equal(g, w)
    # 4-D N×1×H×W inputs are squeezed like PaddleSeg.
    got4 = metrics.calculate_area(pred[None, None], label[None, None], 4)
    np.testing.assert_array_equal(got4[0], want[0])


def test_paddleseg_metrics_by_hand(four_class_case):
    pred, label = four_class_case
    inter, pred_area, label_area = metrics.calculate_area(pred, label, 4)
    # (label, pred) pairs give inter=[3,4,3,0], pred=[5,5,3,0], label=[4,5,4,0].
    np.testing.assert_array_equal(inter, [3, 4, 3, 0])
    class_iou, miou = metrics.mean_iou(inter, pred_area, label_area)
    np.testing.assert_allclose(class_iou, [3 / 6, 4 / 6, 3 / 4, 1.0])  # union 0 -> 1
    assert miou == pytest.approx((3 / 6 + 4 / 6 + 3 / 4 + 1.0) / 4)
    acc, precision, recall = metrics.class_measurement(inter, pred_area, label_area)
    assert acc == pytest.approx(10 / 13)
    np.testing.assert_allclose(precision, [3 / 5, 4 / 5, 3 / 3, 0.0])
    np.testing.assert_allclose(recall, [3 / 4, 4 / 5, 3 / 4, 0.0])
    class_dice, mdice = metrics.dice(inter, pred_area, label_area)
    np.testing.assert_allclose(class_dice, [6 / 9, 8 / 10, 6 / 7, 0.0])  # denominator 0 -> 0
    assert mdice == pytest.approx((6 / 9 + 8 / 10 + 6 / 7) / 4)
    # kappa: T=13 label pixels (PaddleSeg uses Σlabel_area), po=10/13, pe=Σ pred*label / T².
    po, pe = 10 / 13, (5 * 4 + 5 * 5 + 3 * 4) / 13 ** 2
    kappa = metrics.kappa(inter, pred_area, label_area)
    assert isinstance(kappa, float) and kappa == pytest.approx((po - pe) / (1 - pe))


def test_confusion_matrix_methods_and_merge(four_class_case):
    pred, label = four_class_case
    whole = metrics.ConfusionMatrix(4)
    whole.update(pred, label)
    top, bottom = metrics.ConfusionMatrix(4), metrics.ConfusionMatrix(4)
    top.update(pred[:2], label[:2])
    bottom.update(pred[2:], label[2:])
    merged = metrics.ConfusionMatrix(4).merge(top).merge(bottom.matrix)
    np.testing.assert_array_equal(merged.matrix, whole.matrix)
    assert whole.matrix.dtype == np.int64
    np.testing.assert_array_equal(whole.matrix, [[3, 1, 0, 0],   # rows: labels, columns: predictions
                                                 [1, 4, 0, 0],
                                                 [1, 0, 3, 0],
                                                 [0, 0, 0, 0]])
    # The methods give the hand-computed numbers of test_paddleseg_metrics_by_hand.
    assert whole.mean_iou()[1] == pytest.approx((3 / 6 + 4 / 6 + 3 / 4 + 1.0) / 4)
    acc, precision, recall = whole.class_measurement()
    assert acc == pytest.approx(10 / 13)
    np.testing.assert_allclose(recall, [3 / 4, 4 / 5, 3 / 4, 0.0])
    np.testing.assert_allclose(whole.dice()[0], [6 / 9, 8 / 10, 6 / 7, 0.0])
    po, pe = 10 / 13, (5 * 4 + 5 * 5 + 3 * 4) / 13 ** 2
    assert whole.kappa() == pytest.approx((po - pe) / (1 - pe))
    with pytest.raises(ValueError, match="cannot merge a \\(3, 3\\) matrix into \\(4, 4\\)"):
        whole.merge(np.zeros((3, 3), int))


def test_binary_counts_one_vs_rest():
    matrix = np.array([[5, 1, 2],
                       [3, 7, 0],
                       [4, 6, 9]])
    assert metrics.binary_counts(matrix) == (7, 7, 3, 20)  # default foreground: class 1
    assert metrics.binary_counts(matrix, 2) == (9, 2, 10, 16)
    cm = metrics.ConfusionMatrix(3)
    cm.merge(matrix)
    assert cm.binary_counts() == (7, 7, 3, 20)
    assert cm.binary_counts(0) == (5, 7, 3, 22)


def test_calculate_area_honours_ignore_index():
    label = np.array([[0, 9, 2], [1, 9, 2]])
    pred = np.array([[0, 1, 2], [2, 0, 2]])
    inter, pred_area, label_area = metrics.calculate_area(pred, label, 3, ignore_index=9)
    np.testing.assert_array_equal(inter, [1, 0, 2])
    np.testing.assert_array_equal(pred_area, [1, 0, 3])
    np.testing.assert_array_equal(label_area, [1, 1, 2])


def test_mask_restricts_pixels(four_class_case):
    pred, label = four_class_case
    mask = np.zeros_like(label, dtype=np.uint8)
    mask[:, :3] = 1
    cm = metrics.ConfusionMatrix(4)
    cm.update(pred, label, mask=mask)
    want = reference_areas(pred[:, :3], label[:, :3], 4)
    for g, w in zip(cm.areas(), want):
        np.testing.assert_array_equal(g, w)


def test_bad_inputs_raise_clear_errors():
    cm = metrics.ConfusionMatrix(2)
    with pytest.raises(UserError, match="label values \\[2\\] are outside \\[0, 2\\) and not ignore_index 255"):
        cm.update(np.zeros((2, 2), int), np.array([[0, 1], [2, 255]]))
    with pytest.raises(UserError, match="^ConfusionMatrix: label values \\[2, 3, 4, 5, 6, 7, 8, 9, 10, 11\\] are "
                                        "outside \\[0, 2\\) and not ignore_index 255; check num_classes / "
                                        "ignore_index and the label files$"):  # the first ten
        cm.update(np.zeros((1, 12), int), np.array([[13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2]]))
    with pytest.raises(ValueError, match="Shape of pred \\(2, 3\\) does not match the label shape \\(2, 2\\)"):
        cm.update(np.zeros((2, 3), int), np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="Shape of mask \\(3,\\) does not match the label shape"):
        cm.update(np.zeros((2, 2), int), np.zeros((2, 2), int), mask=np.ones(3))
    with pytest.raises(ValueError, match="Shape of fov \\(2, 3\\) does not match the label shape"):
        metrics.whole_image_label(np.zeros((2, 2), int), np.ones((2, 3)))
    for bad in (2, -1):  # pred == num_classes would land silently in the next label's row
        with pytest.raises(ValueError, match="pred holds class ids outside \\[0, 2\\)"):
            cm.update(np.array([[0, bad]]), np.array([[0, 1]]))
    assert cm.matrix.sum() == 0
    with pytest.raises(ValueError, match="num_classes must be >= 1, got 0"):
        metrics.ConfusionMatrix(0)


def test_single_class_matrix_and_tensor_inputs():
    one = metrics.ConfusionMatrix(1)
    one.update(np.zeros((2, 3), int), np.array([[0, 0, 255], [0, 0, 0]]))
    np.testing.assert_array_equal(one.matrix, [[5]])
    cm = metrics.ConfusionMatrix(2)  # paddle Tensors, N×1×H×W
    cm.update(paddle.to_tensor([[[[1, 0, 1]]]]), paddle.to_tensor([[[[1, 1, 0]]]]),
              mask=paddle.to_tensor([[[[1, 1, 0]]]]))
    np.testing.assert_array_equal(cm.matrix, [[0, 0], [1, 1]])


def test_empty_denominators_follow_paddleseg():
    assert metrics.binary_metrics(0, 0, 0, 0) == {
        "dice": 0.0, "sensitivity": 0.0, "specificity": 0.0, "accuracy": 0.0, "iou": 1.0, "precision": 0.0,
        "mcc": 0.0}
    assert metrics.binary_metrics(0, 0, 0, 5) == {
        "dice": 0.0, "sensitivity": 0.0, "specificity": 1.0, "accuracy": 1.0, "iou": 1.0, "precision": 0.0,
        "mcc": 0.0}
    assert metrics.binary_metrics(3, 0, 0, 0)["specificity"] == 0.0
    acc, precision, recall = metrics.class_measurement([0, 0], [0, 0], [0, 0])
    assert acc == 0.0 and precision.tolist() == [0.0, 0.0] and recall.tolist() == [0.0, 0.0]


@pytest.fixture
def vessel_case():
    """Labels are real classes outside the FOV (not ignore_index, unlike DRIVE after the dataset's masking),
    so only an explicit FOV mask keeps them out of the FOV metrics; one ignored pixel inside the FOV."""
    fov = np.array([[0, 1, 1, 1, 0],
                    [1, 1, 1, 1, 1],
                    [0, 1, 1, 1, 0]], dtype=np.uint8)
    label = np.array([[1, 1, 0, 0, 0],
                      [255, 1, 1, 0, 1],
                      [0, 0, 1, 0, 1]], dtype=np.uint8)
    pred = np.array([[1, 1, 0, 1, 0],
                     [0, 1, 0, 0, 1],
                     [0, 0, 1, 1, 1]])
    return pred, label, fov


def test_vessel_metrics_fov_and_whole_image(vessel_case):
    pred, label, fov = vessel_case
    ev = metrics.SegEvaluator(2)
    record = ev.update(pred, label, fov=fov, name="01_test.tif")
    # Inside the FOV (10 counted pixels): TP 4, FP 2, FN 1, TN 3.
    assert reference_binary(pred, label, (fov == 1) & (label != IGNORE)) == (4, 2, 1, 3)
    # Topology inside the FOV: pred is one diagonal chain (its own skeleton, 6 px, 4 on gt); gt is a chain
    # (0,1) (1,1) (1,2) (2,2) plus the lone (1,4): b0 2; Zhang-Suen's first pass removes its two ends
    # (one neighbour run, N·E·S = E·S·W = 0), leaving (1,1) (1,2) (1,4), 2 of them predicted.
    want_fov = {"dice": 8 / 11, "sensitivity": 4 / 5, "specificity": 3 / 5, "accuracy": 7 / 10,
                "iou": 4 / 7, "precision": 4 / 6, "mcc": 10 / 600 ** 0.5,
                "cldice": 2 / 3, "betti0_err": 1, "betti1_err": 0}
    # Whole image (14 pixels): the 4 outside-FOV pixels are background whatever their label -> FP 4, TN 5.
    want_image = {"dice": 8 / 13, "sensitivity": 4 / 5, "specificity": 5 / 9, "accuracy": 9 / 14,
                  "iou": 4 / 9, "precision": 4 / 8, "mcc": 16 / 2160 ** 0.5}
    got = ev.vessel_metrics()
    assert set(got) == {"fov", "image"}
    for region, want in (("fov", want_fov), ("image", want_image)):
        assert set(got[region]) == set(want)
        for key, value in want.items():
            assert got[region][key] == pytest.approx(value)
            assert record[f"{region}_{key}"] == pytest.approx(value)
    assert list(record) == ["name"] + [f"{r}_{k}" for r in ("fov", "image") for k in (
        "dice", "sensitivity", "specificity", "accuracy", "iou", "precision", "mcc")] + [
        "fov_cldice", "fov_betti0_err", "fov_betti1_err"]
    assert record["name"] == "01_test.tif"
    # PaddleSeg's pixels (label != 255, 14 of them) include the outside-FOV labels: TP 6, FP 2, FN 1, TN 5.
    np.testing.assert_array_equal(ev.confusion["label"].matrix, [[5, 2], [1, 6]])
    seg = ev.paddleseg_metrics()
    assert seg["class_dice"][1] == pytest.approx(12 / 15) and seg["acc"] == pytest.approx(11 / 14)


def test_paddleseg_metrics_keys_and_values(vessel_case):
    pred, label, fov = vessel_case
    ev = metrics.SegEvaluator(2, auc_bins=2)
    ev.update(pred, label, fov=fov, prob=np.stack([1 - pred, pred]).astype(float))
    seg = ev.paddleseg_metrics()
    assert set(seg) == {"miou", "acc", "kappa", "mdice", "class_iou", "class_precision", "class_recall",
                        "class_dice", "auc"}
    # matrix [[5, 2], [1, 6]]: inter [5, 6], pred [6, 8], label [7, 7], T = 14.
    assert seg["miou"] == pytest.approx((5 / 8 + 6 / 9) / 2)
    np.testing.assert_allclose(seg["class_iou"], [5 / 8, 6 / 9])
    np.testing.assert_allclose(seg["class_precision"], [5 / 6, 6 / 8])
    np.testing.assert_allclose(seg["class_recall"], [5 / 7, 6 / 7])
    np.testing.assert_allclose(seg["class_dice"], [10 / 13, 12 / 15])
    assert seg["mdice"] == pytest.approx((10 / 13 + 12 / 15) / 2)
    assert seg["acc"] == pytest.approx(11 / 14)
    pe = (6 * 7 + 8 * 7) / 14 ** 2
    assert seg["kappa"] == pytest.approx((11 / 14 - pe) / (1 - pe))
    # Hard 0/1 scores: TPR 6/7 at FPR 2/7 -> AUC = (1 + 6/7 - 2/7) / 2.
    assert seg["auc"] == pytest.approx((1 + 6 / 7 - 2 / 7) / 2)


def test_vessel_metrics_without_fov_and_empty_edge_cases():
    ev = metrics.SegEvaluator(2)
    record = ev.update(np.zeros((2, 2), int), np.array([[0, 0], [0, 255]]))
    got = ev.vessel_metrics()
    assert set(got) == {"image"} and ev.has_fov is False  # val.py sums int(has_fov) over ranks
    assert record["name"] == "" and "fov_dice" not in record
    assert got["image"] == {"dice": 0.0, "sensitivity": 0.0, "specificity": 1.0, "accuracy": 1.0,
                            "iou": 1.0, "precision": 0.0, "mcc": 0.0,  # PaddleSeg conventions
                            "cldice": 0.0, "betti0_err": 0.0, "betti1_err": 0.0}  # no vessel anywhere
    class_iou, _ = metrics.mean_iou(*ev.confusion["label"].areas())
    np.testing.assert_array_equal(class_iou, [1.0, 1.0])


def test_whole_image_label_keeps_values_dtype_and_shape(vessel_case):
    _, label, fov = vessel_case
    before = label.copy()
    out = metrics.whole_image_label(label, fov)
    np.testing.assert_array_equal(label, before)
    np.testing.assert_array_equal(out, [[0, 1, 0, 0, 0],
                                        [255, 1, 1, 0, 1],   # ignored inside the FOV stays ignored
                                        [0, 0, 1, 0, 0]])
    assert out.dtype == np.uint8
    assert metrics.whole_image_label(label[None, None], fov[None, None]).shape == (1, 3, 5)
    assert metrics.whole_image_label(paddle.to_tensor(label[None, None]), None).shape == (1, 3, 5)
    assert metrics.whole_image_label(label[:, :1], None).shape == (3, 1)  # a one-column image stays 2-D


def test_evaluator_fg_class_ignore_index_and_errors():
    label = np.array([[0, 0, 1, 7], [1, 0, 1, 7]])
    pred = np.array([[0, 1, 1, 1], [1, 0, 1, 1]])
    ev = metrics.SegEvaluator(2, ignore_index=7, fg_class=0, auc_bins=4)
    record = ev.update(pred, label, prob=np.stack([1 - pred, pred]).astype(float))
    # Class 0 one-vs-rest over the 6 counted pixels: TP 2, FP 0, FN 1, TN 3 (class 1 would give 3, 1, 0, 2).
    assert record["image_dice"] == pytest.approx(4 / 5) and record["image_specificity"] == 1.0
    assert record["image_auc"] == pytest.approx(5 / 6)  # the tracked (class 1) AUC: TPR 1 at FPR 1/3
    with pytest.raises(ValueError, match="fg_class 2 not in \\[0, 2\\)"):
        metrics.SegEvaluator(2, fg_class=2)


def test_auc_only_with_prob_and_bins():
    label = np.array([[0, 1, 1]])
    prob = np.array([[[0.9, 0.2, 0.4]], [[0.1, 0.8, 0.6]]])
    no_bins = metrics.SegEvaluator(2)
    assert "image_auc" not in no_bins.update(label, label, prob=prob)
    no_prob = metrics.SegEvaluator(2, auc_bins=8)
    assert list(no_prob.update(label, label)) == ["name"] + ["image_" + k for k in (
        "dice", "sensitivity", "specificity", "accuracy", "iou", "precision", "mcc", "cldice", "betti0_err",
        "betti1_err")]
    record = no_prob.update(label, label, prob=prob)
    assert record["image_auc"] == 1.0 and record["image_ap"] == 1.0


@pytest.mark.parametrize("quantize", [None, 20])
def test_auc_matches_exact_rank_statistic(quantize):
    rng = np.random.default_rng(0)
    label = rng.integers(0, 2, size=(1, 30, 40))
    p1 = np.clip(rng.normal(0.4 + 0.2 * label, 0.2), 0, 1)
    if quantize:  # many exact ties
        p1 = np.round(p1 * quantize) / quantize
    label[0, :3, :] = IGNORE
    prob = np.stack([1 - p1, p1], axis=1)
    hist = metrics.AucHistogram(2)
    hist.update(prob, label)
    valid = label != IGNORE
    want = exact_auc(p1[valid], label[valid] == 1)
    assert abs(hist.auc() - want) < 1e-3
    assert 0.6 < want < 0.95


def test_auc_multiclass_macro_mean_and_mask():
    rng = np.random.default_rng(1)
    label = rng.integers(0, 3, size=(20, 25))
    logits = rng.normal(size=(3, 20, 25)) + 1.5 * np.eye(3)[label].transpose(2, 0, 1)
    prob = np.exp(logits) / np.exp(logits).sum(0, keepdims=True)
    mask = np.ones_like(label, bool)
    mask[:, :5] = False
    hist = metrics.AucHistogram(3, bins=4096)
    hist.update(prob, label, mask=mask)
    want = [exact_auc(prob[c][mask], label[mask] == c) for c in range(3)]
    np.testing.assert_allclose(hist.class_auc(), want, atol=1e-3)
    assert hist.auc() == pytest.approx(np.mean(want), abs=1e-3)


def test_auc_merge_and_degenerate_cases():
    rng = np.random.default_rng(2)
    label = rng.integers(0, 2, size=(2, 8, 8))
    p1 = rng.random((2, 8, 8))
    prob = np.stack([1 - p1, p1], axis=1)
    whole = metrics.AucHistogram(2, bins=1024)
    whole.update(prob, label)
    halves = [metrics.AucHistogram(2, bins=1024) for _ in range(2)]
    halves[0].update(prob[0], label[0])
    halves[1].update(prob[1:], label[1:, None])
    merged = halves[0].merge(halves[1].counts)
    np.testing.assert_array_equal(merged.counts, whole.counts)
    only_negatives = metrics.AucHistogram(2)
    only_negatives.update(prob, np.zeros_like(label))
    assert np.isnan(only_negatives.auc())
    perfect = metrics.AucHistogram(2)
    perfect.update(np.stack([1 - label, label], 1).astype(float), label)
    assert perfect.auc() == 1.0


def test_fov_and_whole_image_auc(vessel_case):
    pred, label, fov = vessel_case
    p1 = np.linspace(0.05, 0.95, label.size).reshape(label.shape)
    p1[fov == 0] = 0.97  # confident scores outside the FOV: positives for PaddleSeg, negatives whole-image
    prob = np.stack([1 - p1, p1])
    ev = metrics.SegEvaluator(2, auc_bins=65536)
    record = ev.update(pred, label, fov=fov, prob=prob, name="a")
    inside = (fov == 1) & (label != IGNORE)
    want_fov = exact_auc(p1[inside], label[inside] == 1)
    counted = label != IGNORE
    want_image = exact_auc(p1[counted], (np.where(fov == 1, label, 0) == 1)[counted])
    want_label = exact_auc(p1[counted], label[counted] == 1)
    assert len({round(want_fov, 3), round(want_image, 3), round(want_label, 3)}) == 3
    got = ev.vessel_metrics()
    assert got["fov"]["auc"] == pytest.approx(want_fov, abs=1e-4)
    assert got["image"]["auc"] == pytest.approx(want_image, abs=1e-4)
    assert ev.paddleseg_metrics()["auc"] == pytest.approx(want_label, abs=1e-4)
    assert record["fov_auc"] == pytest.approx(want_fov, abs=1e-4)
    assert record["image_auc"] == pytest.approx(want_image, abs=1e-4)


def test_auc_histogram_bins_by_hand():
    # bins of width 1/4; p = 1.0 falls in the last bin
    p1 = np.array([[[0.0, 0.1, 0.3, 0.5, 0.74, 0.75, 1.0]]])
    label = np.array([[0, 1, 0, 1, 0, 1, 0]])
    hist = metrics.AucHistogram(2, bins=4)
    update = hist.update(np.concatenate([1 - p1, p1]), label)
    assert hist.counts.dtype == np.int64 and hist.counts.shape == (1, 2, 4)  # binary: class 1 only
    np.testing.assert_array_equal(update, [[[1, 1, 1, 1],     # negatives per bin
                                            [1, 0, 1, 1]]])   # positives per bin
    # Mann-Whitney with every same-bin pair counted half: (0.5 + 2.5 + 3.5) / (3 * 4).
    assert hist.auc() == pytest.approx(6.5 / 12)
    assert hist.class_auc().shape == (1,)
    hist.update(np.concatenate([1 - p1, p1]), label)  # a second image accumulates
    np.testing.assert_array_equal(hist.counts, 2 * update)
    assert hist.auc() == pytest.approx(6.5 / 12)
    two_bins = metrics.AucHistogram(2, bins=2)  # p < 0.5 | p >= 0.5
    two_bins.update(np.concatenate([1 - p1, p1]), label)
    np.testing.assert_array_equal(two_bins.counts, [[[2, 2], [1, 2]]])
    assert two_bins.auc() == pytest.approx((1 * (0 + 0.5 * 2) + 2 * (2 + 0.5 * 2)) / 12)


def test_histogram_auc_single_pairs():
    assert metrics.histogram_auc([1, 0], [0, 1]) == 1.0   # one negative below one positive
    assert metrics.histogram_auc([0, 1], [1, 0]) == 0.0
    assert metrics.histogram_auc([1, 0], [1, 0]) == 0.5   # same bin: a tie
    assert np.isnan(metrics.histogram_auc([0, 0], [1, 2]))
    assert np.isnan(metrics.counts_auc(np.zeros((2, 2, 3), int)))


def test_auc_histogram_errors_and_merge():
    with pytest.raises(ValueError, match="num_classes must be >= 2, got 1"):
        metrics.AucHistogram(1)
    with pytest.raises(ValueError, match="bins must be >= 2, got 1"):
        metrics.AucHistogram(2, bins=1)
    hist = metrics.AucHistogram(3, bins=4)
    with pytest.raises(ValueError, match="prob shape \\(1, 2, 2, 2\\) has not 3 classes on axis 1"):
        hist.update(np.zeros((1, 2, 2, 2)), np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="Shape of label \\(3, 5\\) does not match prob's N×H×W \\(1, 2, 2\\)"):
        hist.update(np.zeros((1, 3, 2, 2)), np.zeros((3, 5), int))
    with pytest.raises(ValueError, match="cannot merge counts \\(1, 2, 4\\) into \\(3, 2, 4\\)"):
        hist.merge(metrics.AucHistogram(2, bins=4))
    other = metrics.AucHistogram(3, bins=4)
    other.update(np.full((3, 1, 2), 1 / 3), np.array([[0, 2]]))
    hist.merge(other)
    np.testing.assert_array_equal(hist.counts[:, :, 1], [[1, 1], [2, 0], [1, 1]])
    assert hist.counts.sum() == 6


def test_evaluator_merge_equals_single_pass(vessel_case):
    pred, label, fov = vessel_case
    prob = np.stack([1 - pred, pred]).astype(float)
    single = metrics.SegEvaluator(2, auc_bins=16)
    rank0, rank1 = metrics.SegEvaluator(2, auc_bins=16), metrics.SegEvaluator(2, auc_bins=16)
    single.update(pred, label, prob=prob, name="0")
    rank0.update(pred, label, prob=prob, name="0")
    single.update(1 - pred, label, fov=fov, prob=prob[::-1], name="1")
    rank1.update(1 - pred, label, fov=fov, prob=prob[::-1], name="1")
    assert rank0.merge(rank1) is rank0
    assert rank0.has_fov is True  # one rank saw a FOV
    assert rank0.vessel_metrics() == single.vessel_metrics()
    for region in ("label", "fov", "image"):
        np.testing.assert_array_equal(rank0.auc[region].counts, single.auc[region].counts)
    assert [r["name"] for r in rank0.per_image] == ["0", "1"]
    assert rank0.paddleseg_metrics()["miou"] == single.paddleseg_metrics()["miou"]


def test_per_image_csv_literal(tmp_path):
    records = [{"name": "img_a", "fov_dice": 2 / 3, "count": 3},
               {"name": "img_b", "fov_dice": 1.0, "extra": 0.5}]
    path = tmp_path / "per_image.csv"   # the directory exists already
    metrics.write_per_image_csv(records, str(path))
    assert path.read_bytes() == (b"name,fov_dice,count,extra\r\n"
                                 b"img_a,0.666667,3,\r\n"
                                 b"img_b,1.000000,,0.500000\r\n")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    metrics.write_per_image_csv(records[:1], str(tmp_path / "new" / "sub" / "x.csv"))
    assert (tmp_path / "new" / "sub" / "x.csv").read_text().splitlines()[1] == "img_a,0.666667,3"


def test_per_image_csv_is_atomic(tmp_path, monkeypatch):
    class Unprintable:
        def __str__(self):
            raise RuntimeError("cannot format")

    path = tmp_path / "per_image.csv"
    path.write_text("old\n")
    with pytest.raises(RuntimeError, match="cannot format"):
        metrics.write_per_image_csv([{"name": "a"}, {"name": Unprintable()}], str(path))
    assert os.listdir(tmp_path) == ["per_image.csv"] and path.read_text() == "old\n"
    renames = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: renames.append((src, dst)) or real_replace(src, dst))
    metrics.write_per_image_csv([{"name": "a"}], str(path))
    # the temp file sits next to the destination, so the rename cannot cross filesystems
    assert len(renames) == 1 and os.path.dirname(renames[0][0]) == str(tmp_path)
    assert path.read_bytes() == b"name\r\na\r\n" and os.listdir(tmp_path) == ["per_image.csv"]


def brute_force_ap(scores, positive):
    """sklearn's average_precision_score by hand: one threshold per distinct score, highest first."""
    ap, last_recall = 0.0, 0.0
    for threshold in np.unique(scores)[::-1]:
        called = scores >= threshold
        recall = np.sum(called & positive) / np.sum(positive)
        ap += (recall - last_recall) * np.sum(called & positive) / np.sum(called)
        last_recall = recall
    return ap


@pytest.mark.parametrize("bins, tol", [(16, 1e-12), (65536, 2e-3)])
def test_average_precision_matches_brute_force(bins, tol):
    """16 bins: scores on the bin centres, so bins are exact ties; 65536: continuous scores."""
    rng = np.random.default_rng(1)
    label = rng.integers(0, 2, size=(1, 40, 50))
    p1 = np.clip(rng.normal(0.35 + 0.3 * label, 0.2), 0, 1 - 1e-9)
    if bins == 16:
        p1 = (np.floor(p1 * bins) + 0.5) / bins
    label[0, :2] = IGNORE
    hist = metrics.AucHistogram(2, bins=bins)
    hist.update(np.stack([1 - p1, p1], axis=1), label)
    valid = label != IGNORE
    want = brute_force_ap(p1[valid], label[valid] == 1)
    assert abs(hist.ap() - want) < tol and 0.6 < want < 0.95
    assert np.isnan(metrics.histogram_ap([3, 1], [0, 0]))   # no positives
    assert metrics.histogram_ap([0, 0], [1, 2]) == 1.0      # no negatives: precision 1 everywhere


def test_mcc_is_the_correlation_of_the_two_binary_maps():
    """MCC = Pearson's phi of label and prediction: hand counts tp 6, fp 2, fn 3, tn 9 as 0/1 vectors."""
    label = np.array([1] * 6 + [0] * 2 + [1] * 3 + [0] * 9)
    pred = np.array([1] * 6 + [1] * 2 + [0] * 3 + [0] * 9)
    want = (6 * 9 - 2 * 3) / np.sqrt(8 * 9 * 11 * 12)
    assert metrics.binary_metrics(6, 2, 3, 9)["mcc"] == pytest.approx(want)
    assert want == pytest.approx(np.corrcoef(label, pred)[0, 1])
    assert metrics.binary_metrics(0, 0, 5, 7)["mcc"] == 0.0    # nothing predicted: 0, not NaN
    assert metrics.binary_metrics(4, 0, 0, 6)["mcc"] == 1.0 and metrics.binary_metrics(0, 4, 6, 0)["mcc"] == -1.0
