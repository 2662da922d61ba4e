"""Metrics against explicit per-pixel numpy references on small hand-made data."""
import csv
import os

import numpy as np
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
    assert whole.matrix[1, 0] == 1 and whole.matrix[0, 1] == 1  # rows are labels
    assert whole.matrix[2, 0] == 1 and whole.matrix[0, 2] == 0
    areas = metrics.calculate_area(pred, label, 4)
    assert whole.mean_iou()[1] == metrics.mean_iou(*areas)[1]
    assert whole.kappa() == metrics.kappa(*areas)


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
    with pytest.raises(UserError, match="ConfusionMatrix: label values \\[2\\] are outside \\[0, 2\\)"):
        cm.update(np.zeros((2, 2), int), np.array([[0, 1], [2, 255]]))
    with pytest.raises(ValueError, match="does not match"):
        cm.update(np.zeros((2, 3), int), np.zeros((2, 2), int))
    assert cm.matrix.sum() == 0


@pytest.fixture
def vessel_case():
    """DRIVE-like: label 255 outside the FOV (corners), fov kept separately."""
    fov = np.array([[0, 1, 1, 1, 0],
                    [1, 1, 1, 1, 1],
                    [0, 1, 1, 1, 0]], dtype=np.uint8)
    label = np.array([[255, 1, 0, 0, 255],
                      [0, 1, 1, 0, 1],
                      [255, 0, 1, 255, 255]])
    label[2, 3] = 0  # inside the FOV
    pred = np.array([[1, 1, 0, 1, 0],
                     [0, 1, 0, 0, 1],
                     [0, 0, 1, 0, 1]])
    return pred, label, fov


def test_vessel_metrics_fov_and_whole_image(vessel_case):
    pred, label, fov = vessel_case
    ev = metrics.SegEvaluator(2)
    record = ev.update(pred, label, fov=fov, name="01_test.tif")
    tp, fp, fn, tn = reference_binary(pred, label, (fov == 1) & (label != IGNORE))
    assert (tp, fp, fn, tn) == (4, 1, 1, 5)
    want_fov = {"dice": 2 * tp / (2 * tp + fp + fn), "sensitivity": tp / (tp + fn),
                "specificity": tn / (tn + fp), "accuracy": (tp + tn) / 11,
                "iou": tp / (tp + fp + fn), "precision": tp / (tp + fp)}
    whole_label = np.where(fov == 1, label, 0)
    wtp, wfp, wfn, wtn = reference_binary(pred, whole_label, np.ones_like(fov, bool))
    assert (wtp, wfp, wfn, wtn) == (4, 3, 1, 7)  # two outside-FOV false positives
    got = ev.vessel_metrics()
    for key, value in want_fov.items():
        assert got["fov"][key] == pytest.approx(value)
        assert record[f"fov_{key}"] == pytest.approx(value)
    assert got["image"]["specificity"] == pytest.approx(wtn / (wtn + wfp))
    assert got["image"]["accuracy"] == pytest.approx((wtp + wtn) / 15)
    assert record["name"] == "01_test.tif"
    # PaddleSeg's pixels (label != 255) coincide with the FOV here: same foreground dice.
    assert ev.paddleseg_metrics()["class_dice"][1] == pytest.approx(want_fov["dice"])


def test_vessel_metrics_without_fov_and_empty_edge_cases():
    ev = metrics.SegEvaluator(2)
    ev.update(np.zeros((2, 2), int), np.array([[0, 0], [0, 255]]))
    got = ev.vessel_metrics()
    assert set(got) == {"image"}
    assert got["image"]["iou"] == 1.0 and got["image"]["dice"] == 0.0  # PaddleSeg conventions
    assert got["image"]["specificity"] == 1.0 and got["image"]["accuracy"] == 1.0
    class_iou, _ = metrics.mean_iou(*ev.confusion["label"].areas())
    np.testing.assert_array_equal(class_iou, [1.0, 1.0])


def test_whole_image_label_does_not_modify_input(vessel_case):
    _, label, fov = vessel_case
    before = label.copy()
    out = metrics.whole_image_label(label, fov)
    np.testing.assert_array_equal(label, before)
    assert out[0, 0] == 0 and out[1, 1] == 1


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
    p1[fov == 0] = 0.97  # confident false positives outside the FOV lower the whole-image AUC
    prob = np.stack([1 - p1, p1])
    ev = metrics.SegEvaluator(2, auc_bins=65536)
    record = ev.update(pred, label, fov=fov, prob=prob, name="a")
    inside = (fov == 1) & (label != IGNORE)
    want_fov = exact_auc(p1[inside], label[inside] == 1)
    whole_label = np.where(fov == 1, label, 0)
    want_image = exact_auc(p1.ravel(), whole_label.ravel() == 1)
    got = ev.vessel_metrics()
    assert got["fov"]["auc"] == pytest.approx(want_fov, abs=1e-3)
    assert got["image"]["auc"] == pytest.approx(want_image, abs=1e-3)
    assert record["fov_auc"] == pytest.approx(want_fov, abs=1e-3)
    assert want_image < want_fov - 0.05


def test_evaluator_merge_equals_single_pass(vessel_case):
    pred, label, fov = vessel_case
    single = metrics.SegEvaluator(2)
    rank0, rank1 = metrics.SegEvaluator(2), metrics.SegEvaluator(2)
    for i, ev in enumerate([rank0, rank1]):
        single.update(np.roll(pred, i), label, fov=fov, name=str(i))
        ev.update(np.roll(pred, i), label, fov=fov, name=str(i))
    rank0.merge(rank1)
    assert rank0.vessel_metrics() == single.vessel_metrics()
    assert [r["name"] for r in rank0.per_image] == ["0", "1"]
    assert rank0.paddleseg_metrics()["miou"] == single.paddleseg_metrics()["miou"]


def test_per_image_csv_written_atomically(tmp_path, vessel_case):
    pred, label, fov = vessel_case
    ev = metrics.SegEvaluator(2)
    ev.update(pred, label, fov=fov, name="img_a")
    ev.update(1 - pred, label, fov=fov, name="img_b")
    path = tmp_path / "sub" / "per_image.csv"
    metrics.write_per_image_csv(ev.per_image, str(path))
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == ["img_a", "img_b"]
    assert float(rows[0]["fov_dice"]) == pytest.approx(ev.per_image[0]["fov_dice"], abs=1e-6)
    assert "image_specificity" in rows[1]
    assert os.listdir(path.parent) == ["per_image.csv"]
