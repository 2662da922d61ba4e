"""Vessel topology metrics against hand-drawn masks: skeletons, clDice, Betti numbers (8/4 connectivity)."""
import numpy as np
import pytest

from paddleseg_lite.utils import metrics
from paddleseg_lite.utils.metrics.topology import pooled_topology, topology_metrics


def draw(*rows):
    """A bool mask from strings: '#' foreground, '.' background."""
    return np.array([[c == "#" for c in row] for row in rows])


RING = draw(".....",
            ".###.",
            ".#.#.",
            ".###.")
DIAMOND = draw(".#.",   # one-pixel diagonal loop: 8-connected, and its centre is a 4-connected hole
               "#.#",
               ".#.")
FIGURE_EIGHT = draw("#####",
                    "#.#.#",
                    "#####")
TWO_BLOBS = draw("##...",
                 "##..#",
                 "....#")
U_SHAPE = draw("#.#",   # open at the top: not a hole
               "#.#",
               "###")


@pytest.mark.parametrize("mask, b0, b1", [
    (RING, 1, 1), (TWO_BLOBS, 2, 0), (FIGURE_EIGHT, 1, 2), (DIAMOND, 1, 1), (U_SHAPE, 1, 0),
    (draw("#."), 1, 0),
    (draw("#.", ".#"), 1, 0),                       # diagonal neighbours are one component (8-connectivity)
    (draw("###", "#.#", "###"), 1, 1),              # a ring on the array border still encloses its centre
    (np.zeros((3, 4), bool), 0, 0)])
def test_betti_numbers_of_hand_drawn_shapes(mask, b0, b1):
    assert metrics.betti_numbers(mask) == (b0, b1)


def test_one_pixel_lines_are_their_own_skeleton():
    line = draw("........",
                ".######.",
                "........")
    bent = draw("#....",
                ".#...",
                "..###")
    for mask in (line, bent, DIAMOND, RING):
        np.testing.assert_array_equal(metrics.skeletonize(mask), mask)


def test_skeleton_of_a_thick_bar_is_its_middle_line():
    bar = np.zeros((7, 12), bool)
    bar[2:5, 1:11] = True                           # 3 rows thick, 10 long
    skeleton = metrics.skeletonize(bar)
    rows, cols = np.nonzero(skeleton)
    assert set(rows) == {3} and cols.max() - cols.min() + 1 == len(cols) >= 6   # one unbroken line, centred
    assert not (skeleton & ~bar).any()


def test_every_component_keeps_a_skeleton_pixel():
    """Zhang-Suen alone erases a 2×2 block; the blob must still count in clDice."""
    block = draw("....",
                 ".##.",
                 ".##.")
    assert metrics.skeletonize(block).sum() == 1 and metrics.skeletonize(block)[1, 1]


def test_cldice_of_hand_drawn_masks():
    gt = draw("..........",
              "##########",
              "..........")
    gap = draw("..........",
               "####..####",
               "..........")
    thick = draw("##########",
                 "##########",
                 "##########")
    # gap: its skeleton (itself, 8 px) lies on gt (Tprec 1); gt's 10 skeleton px, 8 predicted (Tsens 0.8)
    assert topology_metrics(metrics.topology_counts(gap, gt))["cldice"] == pytest.approx(2 * 0.8 / 1.8)
    # a thick prediction over a thin vessel: pixel Dice 20/40, clDice 1 (the skeletons agree)
    counts = metrics.topology_counts(thick, gt)
    assert counts["skel_pred"] == counts["skel_pred_in_gt"] > 0 and counts["skel_gt"] == counts["skel_gt_in_pred"] == 10
    assert topology_metrics(counts)["cldice"] == 1.0
    assert metrics.cldice(0, 0, 0, 10) == 0.0       # nothing predicted


def test_betti_errors_and_pooling():
    broken_ring = RING.copy()
    broken_ring[1, 2] = False                       # cut: still one component, no hole
    one = metrics.topology_counts(broken_ring, RING)
    # both are one-pixel paths (their own skeletons): Tprec 7/7, Tsens 7/8 -> clDice 14/15
    assert topology_metrics(one) == {"cldice": pytest.approx(14 / 15), "betti0_err": 0, "betti1_err": 1}
    two = metrics.topology_counts(TWO_BLOBS, np.zeros_like(TWO_BLOBS))   # two false blobs
    assert topology_metrics(two)["betti0_err"] == 2
    pooled = pooled_topology([one, two])
    assert pooled["betti0_err"] == 1.0 and pooled["betti1_err"] == 0.5
    # pooled clDice sums the skeleton counts of both images
    want_prec = (one["skel_pred_in_gt"] + 0) / (one["skel_pred"] + two["skel_pred"])
    want_sens = one["skel_gt_in_pred"] / one["skel_gt"]
    assert pooled["cldice"] == pytest.approx(2 * want_prec * want_sens / (want_prec + want_sens))
    assert np.isnan(pooled_topology([])["cldice"])


def test_evaluator_counts_topology_inside_the_fov_only():
    """A false vessel ring outside the FOV changes no topology number; inside, the counts are the masks'."""
    label = np.zeros((6, 8), np.int64)
    label[2, 1:7] = 1
    pred = label.copy()
    pred[0, :] = pred[5, :] = pred[:, 0] = pred[:, 7] = 1     # a ring along the border (outside the FOV)
    fov = np.zeros((6, 8), np.uint8)
    fov[1:5, 1:7] = 1
    ev = metrics.SegEvaluator(2)
    record = ev.update(pred, label, fov=fov)
    assert (record["fov_cldice"], record["fov_betti0_err"], record["fov_betti1_err"]) == (1.0, 0, 0)
    assert record["image_dice"] < 1 and ev.vessel_metrics()["fov"]["cldice"] == 1.0
    no_fov = metrics.SegEvaluator(2).update(pred, label)
    # without a FOV the ring counts: it meets the vessel at both ends, one component enclosing two holes
    assert (no_fov["image_betti0_err"], no_fov["image_betti1_err"]) == (0, 2)
