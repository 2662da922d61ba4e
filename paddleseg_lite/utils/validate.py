"""Argument checks shared by every constructor and settings object.

Each check returns the value (converted: float, int, tuple) or raises with a one-line message
`"<owner>: <name> must be ..., got <value>"`. Components' constructors (transforms, losses, models,
datasets) let the default TypeError / ValueError through; `cvlibs.builder` turns it into a UserError
with the config path. Callers that check user input directly (run settings, test_config) pass
`error=UserError`, and `owner=None` when the key alone names the setting.
"""
import difflib
import numbers


def _raise(default, error, owner, name, text, value):
    prefix = "{}: ".format(owner) if owner else ""
    raise (error or default)("{}{} must be {}, got {!r}".format(prefix, name, text, value))


def is_int(value):
    """True for an integer that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value):
    """True for a real number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(owner, name, value, low=None, error=None):
    """`value` as int; TypeError unless an integer, ValueError when below `low`."""
    if not is_int(value):
        _raise(TypeError, error, owner, name, "an integer", value)
    if low is not None and value < low:
        _raise(ValueError, error, owner, name, ">= {}".format(low), value)
    return int(value)


def check_number(owner, name, value, low=None, high=None, low_open=False, high_open=False, error=None):
    """`value` as float; TypeError unless a number, ValueError outside [low, high] (`low_open` /
    `high_open` exclude the bound); None bounds are open."""
    if not is_number(value):
        _raise(TypeError, error, owner, name, "a number", value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        if high is None:
            text = "{} {}".format(">" if low_open else ">=", low)
        else:
            text = "in {}{}, {}{}".format("(" if low_open else "[", "-inf" if low is None else low, high,
                                          ")" if high_open else "]")
        _raise(ValueError, error, owner, name, text, value)
    return float(value)


def check_prob(owner, name, value, error=None):
    """A probability in [0, 1], as float."""
    return check_number(owner, name, value, 0.0, 1.0, error=error)


def check_pair(owner, name, value, low=1, error=None):
    """A (width, height) tuple of ints >= `low` from a 2-item list/tuple."""
    text = "a list [width, height] of integers >= {}".format(low)
    if not isinstance(value, (list, tuple)):
        _raise(TypeError, error, owner, name, text, value)
    if len(value) != 2:
        _raise(ValueError, error, owner, name, "a list of 2 items [width, height]", value)
    if not all(is_int(side) for side in value):
        _raise(TypeError, error, owner, name, text, value)
    if min(value) < low:
        _raise(ValueError, error, owner, name, text, value)
    return tuple(int(side) for side in value)


def check_choice(owner, name, value, choices, error=None):
    """`value` if it is one of `choices`, else ValueError listing them (True/False never pass for 1/0)."""
    if value not in choices or (isinstance(value, bool) and not any(c is value for c in choices)):
        _raise(ValueError, error, owner, name, "one of {}".format(", ".join(str(c) for c in choices)), value)
    return value


def check_bool(owner, name, value, error=None):
    """`value` if it is True or False, else TypeError."""
    if not isinstance(value, bool):
        _raise(TypeError, error, owner, name, "True or False", value)
    return value


def check_str(owner, name, value, what="a string", error=None):
    """`value` if it is a string, else TypeError saying `what` is expected."""
    if not isinstance(value, str):
        _raise(TypeError, error, owner, name, what, value)
    return value


def check_class_weight(owner, name, weight, error=None):
    """None, or a non-empty list of numbers >= 0 (one per class) as a list of floats."""
    if weight is None:
        return None
    if isinstance(weight, (str, bytes)) or not hasattr(weight, "__len__"):
        _raise(TypeError, error, owner, name, "a list with one number per class", weight)
    weight = list(weight)
    if not weight or not all(is_number(w) for w in weight):
        _raise(TypeError, error, owner, name, "a non-empty list of numbers", weight)
    if min(weight) < 0:
        _raise(ValueError, error, owner, name, "a list of class weights >= 0", weight)
    return [float(w) for w in weight]


def did_you_mean(key, valid):
    """" Did you mean 'x'?" for the closest of `valid` to a misspelt `key`, or "" when none is close."""
    close = difflib.get_close_matches(str(key), [str(v) for v in valid], n=1)
    return " Did you mean '{}'?".format(close[0]) if close else ""
