import re

import numpy as np
import pytest

from paddleseg_lite.utils import validate as V
from paddleseg_lite.utils.errors import UserError


def test_values_pass_converted():
    assert V.check_int("A", "n", np.int64(3), 1) == 3 and type(V.check_int("A", "n", 3)) is int
    assert V.check_number("A", "x", 2) == 2.0 and V.check_prob("A", "p", 1) == 1.0
    assert V.check_pair("A", "size", [4, 5]) == (4, 5)
    assert V.check_choice("A", "mode", "val", ("train", "val")) == "val"
    assert V.check_class_weight("A", "weight", (1, 2)) == [1.0, 2.0] and V.check_class_weight("A", "w", None) is None
    assert V.check_bool("A", "b", False) is False and V.check_str("A", "s", "x") == "x"


@pytest.mark.parametrize("call, error, message", [
    (lambda: V.check_int("UNet", "num_classes", 2.5), TypeError, "UNet: num_classes must be an integer, got 2.5"),
    (lambda: V.check_int("UNet", "num_classes", True), TypeError, "UNet: num_classes must be an integer, got True"),
    (lambda: V.check_int("UNet", "num_classes", 0, 1), ValueError, "UNet: num_classes must be >= 1, got 0"),
    (lambda: V.check_number("L", "w0", "1"), TypeError, "L: w0 must be a number, got '1'"),
    (lambda: V.check_number("L", "sigma", 0, low=0, low_open=True), ValueError, "L: sigma must be > 0, got 0"),
    (lambda: V.check_number("L", "k", 2, 0, 1, low_open=True), ValueError, r"L: k must be in \(0, 1\], got 2"),
    (lambda: V.check_prob("Flip", "prob", 1.5), ValueError, r"Flip: prob must be in \[0.0, 1.0\], got 1.5"),
    (lambda: V.check_pair("Crop", "crop_size", 5), TypeError, r"Crop: crop_size must be a list \[width, height\]"),
    (lambda: V.check_pair("Crop", "crop_size", [5]), ValueError, "Crop: crop_size must be a list of 2 items"),
    (lambda: V.check_pair("Crop", "crop_size", [5, 0]), ValueError, "integers >= 1, got \\[5, 0\\]"),
    (lambda: V.check_choice("C", "img_channels", 4, (1, 3)), ValueError, "C: img_channels must be one of 1, 3, got 4"),
    (lambda: V.check_choice("C", "img_channels", True, (1, 3)), ValueError, "must be one of 1, 3, got True"),
    (lambda: V.check_bool(None, "do_eval", "yes"), TypeError, "^do_eval must be True or False, got 'yes'$"),
    (lambda: V.check_class_weight("D", "weight", "1,2"), TypeError, "D: weight must be a list"),
    (lambda: V.check_class_weight("D", "weight", [1, -1]), ValueError, "D: weight must be a list of class weights >= 0"),
    (lambda: V.check_int(None, "iters", -5, 1, error=UserError), UserError, "^iters must be >= 1, got -5$"),
])
def test_errors_name_owner_and_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


def raises_exactly(error, message):
    return pytest.raises(error, match='^' + re.escape(message) + '$')


def test_check_class_weight_accepts_numbers_and_returns_floats():
    assert V.check_class_weight('L', 'weight', None) is None
    out = V.check_class_weight('L', 'weight', (1, 0, 2.5))
    assert out == [1.0, 0.0, 2.5] and all(type(w) is float for w in out)


@pytest.mark.parametrize('weight, error, message', [
    ('1,2', TypeError, "L: weight must be a list with one number per class, got '1,2'"),
    (3, TypeError, "L: weight must be a list with one number per class, got 3"),
    ([], TypeError, "L: weight must be a non-empty list of numbers, got []"),
    ([1, '2'], TypeError, "L: weight must be a non-empty list of numbers, got [1, '2']"),
    ([1, True], TypeError, "L: weight must be a non-empty list of numbers, got [1, True]"),
    ([1, -0.5], ValueError, "L: weight must be a list of class weights >= 0, got [1, -0.5]")])
def test_check_class_weight_exact_messages(weight, error, message):
    with raises_exactly(error, message):
        V.check_class_weight('L', 'weight', weight)


def test_check_number_bounds_and_exact_messages():
    assert V.check_number('L', 'a', 0, low=0) == 0.0 and type(V.check_number('L', 'a', 2, low=0)) is float
    assert V.check_number('L', 'a', -5) == -5.0
    with raises_exactly(ValueError, "L: a must be >= 0, got -0.1"):
        V.check_number('L', 'a', -0.1, low=0)
    with raises_exactly(ValueError, "L: a must be > 0, got 0"):
        V.check_number('L', 'a', 0, low=0, low_open=True)
    with raises_exactly(TypeError, "L: a must be a number, got '1'"):
        V.check_number('L', 'a', '1')
    with raises_exactly(TypeError, "L: a must be a number, got True"):
        V.check_number('L', 'a', True)


def test_check_int_bounds_and_exact_messages():
    assert V.check_int('L', 'n', 2, low=2) == 2 and type(V.check_int('L', 'n', np.int64(3), low=2)) is int
    with raises_exactly(ValueError, "L: n must be >= 2, got 1"):
        V.check_int('L', 'n', 1, low=2)
    with raises_exactly(TypeError, "L: n must be an integer, got 2.0"):
        V.check_int('L', 'n', 2.0, low=0)
    with raises_exactly(TypeError, "L: n must be an integer, got False"):
        V.check_int('L', 'n', False, low=0)


@pytest.mark.parametrize("call, error, message", [
    (lambda: V.check_pair("Crop", "crop_size", 5), TypeError,
     "Crop: crop_size must be a list [width, height] of integers >= 1, got 5"),
    (lambda: V.check_pair("Crop", "crop_size", [5]), ValueError,
     "Crop: crop_size must be a list of 2 items [width, height], got [5]"),
    (lambda: V.check_pair("Crop", "crop_size", (5, 6, 7)), ValueError,
     "Crop: crop_size must be a list of 2 items [width, height], got (5, 6, 7)"),
    (lambda: V.check_pair("Crop", "crop_size", [5, 2.0]), TypeError,
     "Crop: crop_size must be a list [width, height] of integers >= 1, got [5, 2.0]"),
    (lambda: V.check_pair("Crop", "crop_size", [True, 5]), TypeError,
     "Crop: crop_size must be a list [width, height] of integers >= 1, got [True, 5]"),
    (lambda: V.check_pair("Crop", "crop_size", [0, 5]), ValueError,
     "Crop: crop_size must be a list [width, height] of integers >= 1, got [0, 5]"),
    (lambda: V.check_pair("Pad", "size", [2, 3], low=3), ValueError,
     "Pad: size must be a list [width, height] of integers >= 3, got [2, 3]"),
    (lambda: V.check_pair(None, "stride", "ab", error=UserError), UserError,
     "stride must be a list [width, height] of integers >= 1, got 'ab'"),
    (lambda: V.check_str("Dataset", "separator", 3), TypeError, "Dataset: separator must be a string, got 3"),
    (lambda: V.check_str("Dataset", "root", None, what="a folder path"), TypeError,
     "Dataset: root must be a folder path, got None"),
    (lambda: V.check_str(None, "metric", 1, error=UserError), UserError, "metric must be a string, got 1"),
    (lambda: V.check_bool("A", "b", 1), TypeError, "A: b must be True or False, got 1"),
    (lambda: V.check_bool(None, "b", 0, error=UserError), UserError, "b must be True or False, got 0"),
    (lambda: V.check_choice("C", "mode", "tst", ("train", "val")), ValueError,
     "C: mode must be one of train, val, got 'tst'"),
    (lambda: V.check_choice(None, "precision", "x", ("fp32",), error=UserError), UserError,
     "precision must be one of fp32, got 'x'"),
    (lambda: V.check_prob("Flip", "prob", -0.5), ValueError, "Flip: prob must be in [0.0, 1.0], got -0.5"),
    (lambda: V.check_prob(None, "p", "1", error=UserError), UserError, "p must be a number, got '1'"),
    (lambda: V.check_number("L", "x", 2, high=1), ValueError, "L: x must be in [-inf, 1], got 2"),
    (lambda: V.check_number("L", "x", 0, low=0, high=1, low_open=True), ValueError, "L: x must be in (0, 1], got 0"),
    (lambda: V.check_number("L", "x", -1, low=0, high=1), ValueError, "L: x must be in [0, 1], got -1"),
    (lambda: V.check_number(None, "lr", None, error=UserError), UserError, "lr must be a number, got None"),
    (lambda: V.check_int(None, "n", "3", error=UserError), UserError, "n must be an integer, got '3'"),
    (lambda: V.check_class_weight("D", "weight", 3, error=UserError), UserError,
     "D: weight must be a list with one number per class, got 3"),
    (lambda: V.check_class_weight("D", "weight", [], error=UserError), UserError,
     "D: weight must be a non-empty list of numbers, got []"),
    (lambda: V.check_class_weight("D", "weight", [-1], error=UserError), UserError,
     "D: weight must be a list of class weights >= 0, got [-1]"),
    (lambda: V.check_number(None, "lr", "x", error=UserError), UserError, "lr must be a number, got 'x'"),
    (lambda: V.check_number(None, "lr", -1, low=0, error=UserError), UserError, "lr must be >= 0, got -1"),
    (lambda: V.check_pair(None, "stride", [1], error=UserError), UserError,
     "stride must be a list of 2 items [width, height], got [1]"),
    (lambda: V.check_pair(None, "stride", [1, 2.5], error=UserError), UserError,
     "stride must be a list [width, height] of integers >= 1, got [1, 2.5]"),
    (lambda: V.check_pair(None, "stride", [1, 0], error=UserError), UserError,
     "stride must be a list [width, height] of integers >= 1, got [1, 0]"),
])
def test_every_check_has_an_exact_message_and_error_type(call, error, message):
    with raises_exactly(error, message):
        call()


def test_values_at_the_bounds_pass_and_come_back_converted():
    assert V.check_pair("C", "s", (1, 2)) == (1, 2) and type(V.check_pair("C", "s", [np.int64(3), 4])[0]) is int
    assert V.check_pair("C", "s", [3, 3], low=3) == (3, 3)
    assert V.check_number("L", "x", 1, low=0, high=1) == 1.0 and V.check_number("L", "x", 0, low=0, high=1) == 0.0
    assert V.check_number("L", "x", 1, high=1) == 1.0 and V.check_prob("F", "p", 0) == 0.0
    assert V.check_choice("C", "flag", True, (True, False)) is True and V.check_choice("C", "n", 1, (1, 3)) == 1
    assert V.check_bool("A", "b", True) is True and V.check_str("A", "s", "") == ""
    assert V.check_int("A", "n", 5, low=5) == 5 and V.check_int("A", "n", -7) == -7
