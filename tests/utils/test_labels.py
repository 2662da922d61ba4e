import re

import numpy as np
import paddle
import pytest

from paddleseg_lite.utils import labels
from paddleseg_lite.utils.errors import UserError


def test_a_sigmoid_model_counts_as_two_classes():
    assert [labels.num_classes_of(c) for c in (1, 2, 5)] == [2, 2, 5]
    assert labels.is_sigmoid(paddle.zeros([2, 1, 4, 4])) and not labels.is_sigmoid(np.zeros((2, 2, 4, 4)))
    assert labels.binary_ok(1, 2) and labels.binary_ok(3, 3)
    assert not labels.binary_ok(2, 1) and not labels.binary_ok(1, 3)


def test_squeeze_label_numpy_and_tensor():
    assert labels.squeeze_label(np.zeros((2, 1, 4, 5))).shape == (2, 4, 5)
    assert labels.squeeze_label(np.zeros((2, 3, 4, 5))).shape == (2, 3, 4, 5)
    assert list(labels.squeeze_label(paddle.zeros([2, 1, 4, 5])).shape) == [2, 4, 5]


def test_bad_values_exclude_class_ids_and_ignore_index():
    assert labels.bad_label_values(np.array([[0, 1, 7], [255, -1, 7]]), 2, 255) == [-1, 7]
    labels.check_label_values([0, 1, 255], 2, 255, "x")


@pytest.mark.parametrize("values, ignore, hint", [([0, 3], 255, "check num_classes / ignore_index"),
                                                  ([0, 255], 254, "labels look like 0/255 masks")])
def test_check_names_where_and_hints_the_fix(values, ignore, hint):
    with pytest.raises(UserError) as info:
        labels.check_label_values(np.array(values), 2, ignore, "label 'a.png'")
    assert str(info.value).startswith("label 'a.png': label values [{}] are outside [0, 2) and not ignore_index {};"
                                      .format(values[1], ignore))
    assert hint in str(info.value)


def test_check_reports_every_offending_value_exactly():
    message = ("L: label values [-3, 2] are outside [0, 2) and not ignore_index 255; check num_classes / ignore_index "
               "and the label files")
    with pytest.raises(UserError, match='^' + re.escape(message) + '$'):
        labels.check_label_values([-3, 2], 2, 255, 'L')
    with pytest.raises(UserError, match=r'^L: label values \[-3\] '):
        labels.check_label_values([-3, 1], 2, 255, 'L')
    labels.check_label_values([0, 1], 2, 255, 'L')


def test_check_lists_the_first_ten_offending_values():
    with pytest.raises(UserError) as info:
        labels.check_label_values(np.arange(2, 14), 2, 255, "lbl.png")
    assert str(info.value) == ("lbl.png: label values [2, 3, 4, 5, 6, 7, 8, 9, 10, 11] are outside [0, 2) and not "
                               "ignore_index 255; check num_classes / ignore_index and the label files")


@pytest.mark.parametrize("mapping", [{0: 0, 255: 1}, {"0": 0, "255": 1}])
def test_label_map_converts_stored_values(mapping):
    raw = np.array([[0, 255, 255], [0, 0, 255]], np.uint8)
    out = labels.LabelMap(mapping).apply(raw, "a.png")
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[0, 1, 1], [0, 0, 1]])


@pytest.mark.parametrize("key", ["255,0,0", "255, 0, 0", "255 0 0", (255, 0, 0), [255, 0, 0]])
def test_label_map_converts_colours(key):
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 1] = (255, 0, 0)
    rgb[1, 2] = (0, 255, 0)
    label_map = labels.LabelMap({"0,0,0": 0, (0, 255, 0): 2, **{tuple(key) if isinstance(key, list) else key: 1}})
    assert label_map.colour
    np.testing.assert_array_equal(label_map.apply(rgb, "c.png"), [[0, 1, 0], [0, 0, 2]])


def test_label_map_names_every_uncovered_value_and_the_file():
    label_map = labels.LabelMap({0: 0, 255: 1}, "FolderDataset: label_map")
    raw = np.array([[0, 128, 255, 7]], np.uint8)
    assert label_map.unmapped(raw) == ["7", "128"]
    with pytest.raises(UserError) as info:
        label_map.apply(raw, "label 'm.png'")
    assert str(info.value) == ("label 'm.png': values [7, 128] are not covered by FolderDataset: label_map {0: 0, "
                               "255: 1}; add them to it (map them to a class, or to ignore_index to leave them out)")
    colours = labels.LabelMap({"0,0,0": 0})
    assert colours.unmapped(np.array([[[0, 0, 0], [1, 2, 3]]], np.uint8)) == ["1,2,3"]


@pytest.mark.parametrize("mapping, match", [
    ({}, "label_map must be a mapping"), ([0, 1], "label_map must be a mapping"),
    ({0: 0, "255,0,0": 1}, "mixes stored values and RGB colours"), ({0: 0, "0": 1}, "names the same key twice"),
    ({-1: 0}, "key -1 is neither"), ({"1,2": 0}, "key '1,2' is neither"), ({"256,0,0": 0}, "is neither"),
    ({0: -1}, "maps 0 to -1; class ids must be integers >= 0"), ({0: 1.5}, "maps 0 to 1.5")])
def test_a_bad_label_map_is_refused(mapping, match):
    with pytest.raises(ValueError, match=match):
        labels.LabelMap(mapping)


def test_label_map_targets_must_be_classes_or_ignore():
    labels.LabelMap({0: 0, 128: 255, 255: 1}).check_targets(2, 255)
    with pytest.raises(ValueError, match=r"label_map maps to \[2\] but class ids must be in \[0, 2\) or ignore_index"):
        labels.LabelMap({0: 0, 255: 2}).check_targets(2, 255)
