"""The evaluation report of `tools/val.py --save_dir`: pictures per image, curves, index.html (rows sorted by
F1 worst first, every link resolving), and the page rendered by headless Chromium when it is installed."""
import csv
import html.parser
import math
import os
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from paddleseg_lite.core.report_curves import curve_points
from paddleseg_lite.core.report_page import sorted_rows
from tool_runner import CONFIG, TINY, load_tool, save_tiny_weights

KINDS = ("image", "prediction", "errors", "probability")


class PageLinks(html.parser.HTMLParser):
    """hrefs / srcs, the rows of the images table and whether the page has a script."""

    def __init__(self):
        super().__init__()
        self.links, self.rows, self.scripts, self._cells = [], [], 0, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [attrs[k] for k in ("href", "src") if k in attrs]
        self.scripts += tag == "script"
        if tag == "tr" and attrs.get("class") == "image-row":
            self._cells = []
            self.rows.append(self._cells)

    def handle_data(self, data):
        if self._cells is not None and data.strip():
            self._cells.append(data.strip())

    def handle_endtag(self, tag):
        if tag == "tr":
            self._cells = None


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A val run of the tiny synthetic config (4 images, 32 px) with --save_dir."""
    weights = tmp_path_factory.mktemp("weights") / "model.pdparams"
    save_tiny_weights(weights)
    out = tmp_path_factory.mktemp("report")
    load_tool("val").main(["--config", CONFIG, "--device", "cpu", "--model_path", str(weights),
                           "--save_dir", str(out), "--opts", *TINY, "test_config.auc_roc=False"])
    with open(out / "per_image_metrics.csv") as f:
        records = list(csv.DictReader(f))
    return out, records


def test_report_files_rows_and_links(report):
    out, records = report
    assert len(records) == 4
    for i, record in enumerate(records):  # --save_dir turns the probabilities on even with auc_roc off
        for kind in KINDS:
            full = cv2.imread(str(out / "images" / "{:04d}_{}_{}.png".format(i, record["name"], kind)))
            thumb = cv2.imread(str(out / "thumbs" / "{:04d}_{}_{}.png".format(i, record["name"], kind)))
            assert full.shape[:2] == (32, 32) and thumb.shape[:2] == (128, 128)
    for name in ("roc.png", "pr.png"):
        assert cv2.imread(str(out / name)).std() > 10
    page = PageLinks()
    page.feed((out / "index.html").read_text())
    assert page.scripts == 0 and page.links
    for link in page.links:  # relative, and every one resolves
        assert not link.startswith(("/", "http", "file:")) and os.path.isfile(out / link), link
    worst_first = sorted(records, key=lambda r: float(r["fov_dice"]))
    assert [row[1] for row in page.rows] == [os.path.basename(r["name"]) for r in worst_first]
    for row, record in zip(page.rows, worst_first):
        assert "{:.4f}".format(float(record["fov_dice"])) in row and "{:.4f}".format(float(record["image_auc"])) in row


def test_curve_points_match_thresholds_applied_by_hand():
    rng = np.random.default_rng(0)
    bins = 16
    scores, truth = rng.integers(0, bins, 200), rng.random(200) < 0.3
    neg = np.bincount(scores[~truth], minlength=bins)
    pos = np.bincount(scores[truth], minlength=bins)
    fpr, tpr, precision = curve_points(neg, pos)
    expected = []
    for t in [bins] + sorted(set(scores.tolist()), reverse=True):  # predict positive where score >= t
        tp, fp = int(np.sum(truth & (scores >= t))), int(np.sum(~truth & (scores >= t)))
        expected.append((fp / (~truth).sum(), tp / truth.sum(), tp / (tp + fp) if tp + fp else math.nan))
    np.testing.assert_allclose(np.stack([fpr, tpr, precision], 1), expected)
    assert curve_points(neg, np.zeros(bins)) is None


def test_rows_sort_worst_first_with_missing_values_last():
    rows = [({"fov_dice": 0.9}, "a"), ({"fov_dice": math.nan}, "b"), ({}, "c"), ({"fov_dice": 0.1}, "d")]
    assert [pictures for _, pictures in sorted_rows(rows, "fov_dice")] == ["d", "a", "b", "c"]


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="chromium not installed (Debian: apt-get install chromium); .ci/run installs it")
def test_chromium_renders_every_row_with_its_pictures(report, tmp_path):
    out, records = report
    png = tmp_path / "page.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--user-data-dir=" + str(tmp_path / "profile"), "--screenshot=" + str(png),
                    "--window-size=1200,2400", (out / "index.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    shot = cv2.imread(str(png))[:, :, ::-1]
    assert shot.shape[:2] == (2400, 1200) and shot.std() > 20  # not a blank page
    colors = {tuple(c) for c in shot.reshape(-1, 3)[::7]}
    assert (255, 0, 255) in colors  # the error maps' false positives: thumbnails load from relative links
    rows = PageLinks()
    rows.feed((out / "index.html").read_text())
    assert sorted(row[1] for row in rows.rows) == sorted(r["name"] for r in records)
    # the last row is on screen: its thumbnails (128 px tall) end above the bottom edge of the shot
    ink = np.flatnonzero((shot.min(axis=2) < 200).any(axis=1))
    assert ink[-1] < 2400 - 20
