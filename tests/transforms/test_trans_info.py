"""transforms/trans_info.py: undoing the recorded resizes and paddings, newest first, on arrays and tensors."""
import numpy as np
import paddle
import pytest

from paddleseg_lite.transforms.trans_info import undo_trans_info


def record_resize(calls):
    def resize(x, size):
        calls.append(size)
        return np.zeros(x.shape[:-2] + size, x.dtype)
    return resize


def test_walks_the_record_backwards_cropping_paddings_and_resizing():
    x = np.arange(2 * 6 * 8).reshape(2, 6, 8)
    calls = []
    # recorded in this order: resize from 3x4, then pad from 5x7 (the image was 5x7 after the resize)
    out = undo_trans_info(x, [("resize", (3, 4)), ("padding", (5, 7))], record_resize(calls))
    assert calls == [(3, 4)] and out.shape == (2, 3, 4)
    cropped = undo_trans_info(x, [("padding", (5, 7))], record_resize([]))
    np.testing.assert_array_equal(cropped, x[:, :5, :7])


def test_sizes_may_be_collated_tensors_and_none_means_nothing_to_undo():
    x = np.ones((4, 4))
    calls = []
    info = [("resize", (paddle.to_tensor([2]), np.array([3])))]
    assert undo_trans_info(x, info, record_resize(calls)).shape == (2, 3) and calls == [(2, 3)]
    assert undo_trans_info(x, None, record_resize([])) is x and undo_trans_info(x, [], record_resize([])) is x


def test_an_unknown_op_is_refused():
    with pytest.raises(ValueError) as info:
        undo_trans_info(np.ones((2, 2)), [("flip", (2, 2))], record_resize([]))
    assert str(info.value) == "Unexpected trans_info op 'flip'; only 'resize' and 'padding' are supported"
