"""Paddle's old (ProgramDesc) static graph, as the static training step needs it.

Paddle 3.3 binds some functions straight to generated `_C_ops`, which reject old-IR Variables; while a
program is being built, `legacy_ops()` makes them append the equivalent old ops instead, and makes
`bool(Variable)` (a data-dependent Python branch, which a static graph would silently freeze) raise.
`static_parameters(model)` swaps a model's tensors for static Variables of the same names. Nothing
outside this subpackage patches Paddle.
"""
import contextlib
import os
import sys

import paddle
from paddle.base import framework
from paddle.base.layer_helper import LayerHelper

@contextlib.contextmanager
def old_static_graph():
    """Static mode with the old (ProgramDesc) IR; restores dygraph/PIR on exit."""
    with paddle.pir_utils.OldIrGuard():
        yield


@contextlib.contextmanager
def flags(flags):
    old = paddle.get_flags(list(flags))
    paddle.set_flags(flags)
    try:
        yield
    finally:
        paddle.set_flags(old)


def _is_old_variable(x):
    return isinstance(x, framework.Variable) and not paddle.in_dynamic_mode() and not framework.in_pir_mode()


def _append_op(op_type, inputs, attrs, dtype):
    helper = LayerHelper(op_type)
    out = helper.create_variable_for_type_inference(dtype=dtype)
    helper.append_op(type=op_type, inputs=inputs, outputs={"Out": out}, attrs=attrs)
    return out


def _old_sum(x, axis=None, dtype=None, keepdim=False, name=None):
    if dtype is not None:
        x = x.astype(dtype)
    axis = [] if axis is None else [axis] if isinstance(axis, int) else list(axis)
    return _append_op("reduce_sum", {"X": x}, {"dim": axis or [0], "keep_dim": keepdim,
                                               "reduce_all": not axis or len(axis) == len(x.shape)}, x.dtype)


def _old_unary(op_type):
    return lambda x, name=None: _append_op(op_type, {"X": x}, {}, x.dtype)


def _old_binary(op_type):
    return lambda x, y, name=None: _append_op(op_type, {"X": x, "Y": y}, {"axis": -1}, x.dtype)


def _old_softplus(x, beta=1, threshold=20, name=None):
    return _append_op("softplus", {"X": x}, {"beta": float(beta), "threshold": float(threshold)}, x.dtype)


# Functions that Paddle 3.3 binds straight to generated `_C_ops` (they reject old-IR Variables) and that
# models or losses use, with the old op each appends instead.
_OLD_OPS = {"sum": _old_sum, "softplus": _old_softplus,
            "minimum": _old_binary("elementwise_min"), "maximum": _old_binary("elementwise_max"),
            "multiply": _old_binary("elementwise_mul"),
            **{op: _old_unary(op) for op in ("exp", "log", "sqrt", "abs", "sigmoid", "tanh")}}
_MISSING = object()


def _dispatch(original, old):
    def call(x, *args, **kwargs):
        if _is_old_variable(x):
            return old(x, *args, **kwargs)
        return original(x, *args, **kwargs)
    return call


_PADDLE_DIR = os.path.dirname(paddle.__file__)


def _no_bool(self):
    """`bool(Variable)` from model/loss code: a value-dependent Python branch, which a static graph would
    silently freeze (Python's default truth is True); Paddle's own `if weight:` checks stay allowed."""
    if sys._getframe(1).f_code.co_filename.startswith(_PADDLE_DIR):
        return True
    raise TypeError("a Python `if`/`while`/`bool()` on a tensor value (data-dependent control flow)")


@contextlib.contextmanager
def legacy_ops():
    """While building: the functions of `_OLD_OPS` (module functions and Tensor methods) append old ops
    for old-IR Variables, and `bool(Variable)` raises instead of silently being True."""
    modules = (paddle, paddle.tensor, paddle.tensor.math, paddle.tensor.ops, paddle.nn.functional,
               paddle.nn.functional.activation)
    saved = [(m, n, m.__dict__.get(n, _MISSING)) for m in modules for n in _OLD_OPS if n in m.__dict__]
    saved += [(framework.Variable, n, framework.Variable.__dict__.get(n, _MISSING))
              for n in list(_OLD_OPS) + ["__bool__"]]
    try:
        for m, n, original in saved:
            if m is not framework.Variable:
                setattr(m, n, _dispatch(original, _OLD_OPS[n]))
        for n, old in _OLD_OPS.items():
            setattr(framework.Variable, n, old)
        framework.Variable.__bool__ = _no_bool
        yield
    finally:
        for m, n, value in saved:
            if value is not _MISSING:
                setattr(m, n, value)
            elif n in m.__dict__:
                delattr(m, n)


@contextlib.contextmanager
def static_parameters(model):
    """Replace every parameter/buffer of `model` by a static Variable of the same name (as dy2static's
    `param_guard`); yields {tensor name: static var}."""
    converted, swapped = {}, []
    try:
        for layer in model.sublayers(include_self=True):
            for store in (layer._parameters, layer._buffers):
                for key, tensor in list(store.items()):
                    if tensor is None or not isinstance(tensor, paddle.Tensor):
                        continue
                    if tensor.name not in converted:
                        is_param = isinstance(tensor, framework.EagerParamBase)
                        converted[tensor.name] = (tensor._to_static_var(to_parameter=True) if is_param else
                                                  tensor._to_static_var(to_parameter=False, persistable=True))
                    swapped.append((store, key, tensor))
                    store[key] = converted[tensor.name]
        yield converted
    finally:
        for store, key, tensor in swapped:
            store[key] = tensor
