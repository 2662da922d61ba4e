"""`--to_static_training` on the CPU: run the training step as an old (non-PIR) static graph.

Paddle 3.3 dygraph training on a CPU is slow; the same step as an old-IR static program with oneDNN
on the convolutions (forward and backward) gives the same losses (~1e-7) and is faster: batch 4 on an
idle 2-core machine, 2 threads, UNet-64 at 128x128 1.55 vs 3.65 s/step (2.3x), UNet base 16 at 256x256
1.05 vs 1.86 s/step (1.8x); under load the gap was larger (2.3-2.9 vs 7.8 s/step). `StaticTrainer` builds that program from the *dygraph*
model, losses and optimizer of `core/train.py` and keeps its own copy of the training state in a
private scope:

- parameters and BatchNorm statistics keep their dygraph tensor names (the model's forward is traced
  with each parameter replaced by a static Parameter of the same name and attributes);
- the static optimizer mirrors the dygraph one (SGD, Momentum, Adam, AdamW: same hyper-parameters,
  weight decay, gradient clip) and shares its LR scheduler object, so the caller's `scheduler.step()`
  drives both and the optimizer's state_dict keeps the scheduler state;
- `sync_from(model, optimizer)` / `sync_to(model, optimizer)` copy parameters, BatchNorm statistics
  and optimizer accumulators (momentum velocity, Adam moments and beta powers) between the static
  scope and a dygraph model/optimizer, matched by state_dict key (and accumulator kind), so that
  checkpoints, evaluation and resume keep using the dygraph objects unchanged.

The program is built at the first `step` (from that batch's shapes) and starts from the state of the
model/optimizer given to the constructor at that moment. A model or loss whose forward cannot be
traced into a static graph (data-dependent Python control flow, `.numpy()`, ...) raises a UserError
telling the user to train without --to_static_training.

The old static graph is deprecated in Paddle 3.x; everything it needs lives in this module.
"""
import contextlib
import os
import sys

import numpy as np
import paddle
from paddle.base import framework, unique_name
from paddle.base.layer_helper import LayerHelper
from paddle.optimizer.lr import LRScheduler

from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError

ONEDNN_OPS = ("conv2d", "conv2d_grad")
DISABLE_HINT = "train without --to_static_training (or set to_static_training: False in the config)"


@contextlib.contextmanager
def _old_static_graph():
    """Static mode with the old (ProgramDesc) IR; restores dygraph/PIR on exit."""
    with paddle.pir_utils.OldIrGuard():
        yield


@contextlib.contextmanager
def _flags(flags):
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
def _legacy_ops():
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
def _static_parameters(model):
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


def _leaf_losses(loss):
    subs = getattr(loss, "losses", None)
    if isinstance(subs, paddle.nn.LayerList):
        return [leaf for sub in subs for leaf in _leaf_losses(sub)]
    return [loss]


def _mirror_optimizer(optimizer, parameters):
    """A static-graph optimizer with `optimizer`'s class, hyper-parameters and LR (scheduler) object."""
    name = type(optimizer).__name__
    if getattr(optimizer, "_multi_precision", False) or getattr(optimizer, "_use_multi_tensor", False):
        raise UserError("--to_static_training supports fp32 optimizers only (no multi_precision / "
                        "use_multi_tensor); {}".format(DISABLE_HINT))
    if optimizer._param_groups and isinstance(optimizer._param_groups[0], dict):
        raise UserError("--to_static_training does not support parameter groups; {}".format(DISABLE_HINT))
    common = dict(learning_rate=optimizer._learning_rate, parameters=parameters,
                  grad_clip=optimizer._grad_clip)
    if name == "SGD":
        return paddle.optimizer.SGD(weight_decay=optimizer.regularization, **common)
    if name == "Momentum":
        # Momentum keeps an L2Decay out of `regularization` and fuses it into its op
        fused_l2 = optimizer._regularization_method == "l2_decay"
        return paddle.optimizer.Momentum(momentum=optimizer._momentum, use_nesterov=optimizer._use_nesterov,
                                         weight_decay=(optimizer._regularization_coeff if fused_l2
                                                       else optimizer.regularization),
                                         rescale_grad=optimizer._rescale_grad, **common)
    adam_args = dict(beta1=optimizer._beta1, beta2=optimizer._beta2, epsilon=optimizer._epsilon,
                     lazy_mode=optimizer._lazy_mode, amsgrad=optimizer._amsgrad, **common)
    if name == "Adam":
        return paddle.optimizer.Adam(weight_decay=optimizer.regularization, **adam_args)
    if name == "AdamW":
        return paddle.optimizer.AdamW(weight_decay=optimizer._weight_decay, lr_ratio=optimizer._lr_ratio,
                                      apply_decay_param_fun=optimizer._apply_decay_param_fun, **adam_args)
    raise UserError("--to_static_training supports the optimizers SGD, Momentum, Adam and AdamW, not {}; "
                    "{}".format(name, DISABLE_HINT))


def _first_line(e):
    text = (str(e).strip().splitlines() or [""])[0]
    for tail in (" If you are using @to_static", " Suggestions:"):
        text = text.split(tail)[0]
    return "{}: {}".format(type(e).__name__, text)


def _to_numpy(x):
    return x.numpy() if isinstance(x, paddle.Tensor) else np.asarray(x)


def _ensure_accumulators(optimizer):
    """Create the dygraph optimizer's accumulators now (as its first `step` would, loading a resumed
    state_dict held in `_accumulators_holder`), so they can be read and written."""
    params = [p for p in optimizer._parameter_list if not p.stop_gradient]
    with paddle.no_grad():
        optimizer._create_accumulators(framework.default_main_program().global_block(), params)


def _set_tensor(tensor, value):
    with paddle.no_grad():
        tensor.set_value(np.ascontiguousarray(value, dtype=tensor.numpy().dtype).reshape(tensor.shape))


class StaticTrainer:
    """Train `model` with `losses` and `optimizer` as an old-IR static program (see the module doc).

    Args:
        model (paddle.nn.Layer): The dygraph model; its forward is traced at the first `step`.
        losses (dict): `{'types': [loss layers], 'coef': [floats]}` as built by `cvlibs.builder.build_loss`.
        optimizer (paddle.optimizer.Optimizer): The dygraph optimizer of `model` (SGD, Momentum, Adam,
            AdamW); its LR scheduler is shared with the static program.
        onednn (bool): Run conv2d / conv2d_grad with oneDNN on the CPU. Default True.

    Usage: `values = trainer.step(img, label)` per iteration (then step the LR scheduler as in dygraph);
    `trainer.sync_to(model, optimizer)` before evaluating or saving the dygraph objects;
    `trainer.sync_from(model, optimizer)` after loading a checkpoint into them.
    """

    def __init__(self, model, losses, optimizer, onednn=True):
        self.model, self.losses, self.optimizer = model, losses, optimizer
        self.onednn = onednn
        self.place = framework._current_expected_place()
        self.scope = paddle.static.Scope()
        self.exe = paddle.static.Executor(self.place)
        self.program = None
        self.shapes = None
        self.num_classes = None
        self.vars = {}           # state_dict key -> static var name
        self.accumulators = {}   # (accumulator kind, state_dict key of the parameter) -> static var name

    # ------------------------------------------------------------------ build
    def _trace(self, img, label):
        from paddleseg_lite.core.train import compute_losses  # lazy: core.train may import this module
        try:
            logits_list = self.model(img)
        except UserError:
            raise
        except Exception as e:  # noqa: BLE001 - any tracing failure becomes one clear message
            raise UserError("--to_static_training: the model {} cannot be built as a static graph ({}); "
                            "{}".format(type(self.model).__name__, _first_line(e), DISABLE_HINT))
        try:
            return logits_list, compute_losses(logits_list, label, self.losses)
        except UserError:
            raise
        except Exception as e:  # noqa: BLE001
            failing = self._failing_loss(logits_list, label) or "loss"
            raise UserError("--to_static_training: the {} cannot be built as a static graph ({}); use "
                            "another loss or {}".format(failing, _first_line(e), DISABLE_HINT))

    def _failing_loss(self, logits_list, label):
        """The name of the first loss that fails to trace (the program is discarded afterwards)."""
        for logits, loss in zip(logits_list, self.losses["types"]):
            for leaf in _leaf_losses(loss):
                try:
                    leaf(logits, label)
                except Exception:  # noqa: BLE001
                    return "loss " + type(leaf).__name__
        return None

    def _build(self, img_shape, label_shape, img_dtype):
        if not self.model.training:
            raise UserError("StaticTrainer: call model.train() before the first step")
        state = self.model.state_dict()
        with _old_static_graph():
            main, startup = paddle.static.Program(), paddle.static.Program()
            with paddle.static.program_guard(main, startup), unique_name.guard("static_train_"), \
                    _legacy_ops(), _static_parameters(self.model) as converted:
                img = paddle.static.data("img", list(img_shape), img_dtype)
                label = paddle.static.data("label", list(label_shape), "int64")
                logits_list, loss_list = self._trace(img, label)
                total = loss_list[0]
                for term in loss_list[1:]:
                    total = total + term
                params = [converted[p.name] for p in self.optimizer._parameter_list]
                static_opt = _mirror_optimizer(self.optimizer, params)
                static_opt.minimize(total)
            if self.onednn and isinstance(self.place, paddle.CPUPlace):
                for op in main.global_block().ops:
                    if op.type in ONEDNN_OPS:
                        op._set_attr("use_mkldnn", True)
            self.exe.run(startup, scope=self.scope)
        self.vars = {key: t.name for key, t in state.items() if t.name in converted}
        key_of = {t.name: key for key, t in state.items()}
        self.accumulators = {(kind, key_of[pname]): var.name for kind, per_param in static_opt._accumulators.items()
                             for pname, var in per_param.items() if pname in key_of}
        self.program, self.fetch = main, loss_list
        self.static_optimizer = static_opt
        self.shapes = (tuple(img_shape), tuple(label_shape))
        self.num_classes = max(int(logits_list[0].shape[1]), 2)
        logger.info("--to_static_training: built an old-IR static program ({} ops, oneDNN on {})".format(
            len(main.global_block().ops), "conv2d" if self.onednn else "nothing"))

    # ------------------------------------------------------------------ state
    def _scope_get(self, name):
        return np.array(self.scope.find_var(name).get_tensor())

    def _scope_set(self, name, value):
        self.scope.var(name).get_tensor().set(np.ascontiguousarray(value), self.place)

    def _pairs(self, model, optimizer):
        """(static var name, dygraph tensor) for every synced value."""
        state = model.state_dict()
        missing = [key for key in self.vars if key not in state]
        if missing:
            raise UserError("StaticTrainer: the model lacks {} (not the model the program was built from)".format(
                ", ".join(missing[:3])))
        pairs = [(name, state[key]) for key, name in self.vars.items()]
        _ensure_accumulators(optimizer)
        for (kind, key), name in self.accumulators.items():
            pairs.append((name, optimizer._accumulators[kind][state[key].name]))
        return pairs

    def sync_from(self, model, optimizer):
        """Copy parameters, BatchNorm statistics, optimizer accumulators and the LR scheduler state from
        the dygraph `model` / `optimizer` into the static program (no-op copy before the first step: the
        program is then built from `self.model` / `self.optimizer`)."""
        if self.program is None:
            self.model, self.optimizer = model, optimizer
            return
        for name, tensor in self._pairs(model, optimizer):
            self._scope_set(name, tensor.numpy())
        self._copy_scheduler(optimizer._learning_rate, self.static_optimizer._learning_rate)

    def sync_to(self, model, optimizer):
        """Copy the static training state into the dygraph `model` / `optimizer` (before evaluating,
        saving or finishing)."""
        if self.program is None:
            return
        for name, tensor in self._pairs(model, optimizer):
            _set_tensor(tensor, self._scope_get(name))
        self._copy_scheduler(self.static_optimizer._learning_rate, optimizer._learning_rate)

    @staticmethod
    def _copy_scheduler(src, dst):
        if src is not dst and isinstance(src, LRScheduler) and isinstance(dst, LRScheduler):
            dst.set_state_dict(src.state_dict())

    # ------------------------------------------------------------------ step
    def check_labels(self, label):
        """The losses' label check (`losses.utils.check_label_range`), on the numpy batch."""
        from paddleseg_lite.models.losses.utils import check_label_range
        for loss in self.losses["types"]:
            for leaf in _leaf_losses(loss):
                ignore = getattr(leaf, "ignore_index", None)
                if ignore is None:
                    continue
                values = label[label != ignore]
                if values.size:
                    check_label_range(type(leaf).__name__, int(values.min()), int(values.max()),
                                      self.num_classes, ignore)

    def step(self, img, label):
        """One optimization step on a batch (N x C x H x W image, N x H x W labels; Tensors or arrays).

        Returns:
            list[float]: The loss terms (as `core.train.compute_losses`), computed before the update.
        """
        img, label = _to_numpy(img), _to_numpy(label).astype("int64")
        if label.ndim == 4 and label.shape[1] == 1:
            label = label[:, 0]
        if self.program is None:
            self._build(img.shape, label.shape, str(img.dtype))
            self.sync_from(self.model, self.optimizer)
        elif (img.shape, label.shape) != self.shapes:
            raise UserError("--to_static_training needs batches of one shape: the program was built for {} "
                            "but got {}; crop/resize training images to a fixed size or {}".format(
                                self.shapes[0], img.shape, DISABLE_HINT))
        self.check_labels(label)
        with _old_static_graph(), _flags({"FLAGS_new_executor_serial_run": True}):
            values = self.exe.run(self.program, feed={"img": img, "label": label}, fetch_list=self.fetch,
                                  scope=self.scope)
        return [float(np.asarray(v).reshape(-1)[0]) for v in values]


def make_static_trainer(enabled, model, losses, optimizer, precision="fp32", world_size=1):
    """The StaticTrainer of `core.train.train(..., to_static_training=enabled)`, or None (dygraph).

    Raises:
        UserError: for fp16 or multi-process training, which the static program does not do.
    """
    if not enabled:
        return None
    if precision != "fp32":
        raise UserError("--to_static_training trains in fp32 only; drop --precision {} or --to_static_training".format(
            precision))
    if world_size > 1:
        raise UserError("--to_static_training trains in one process only; drop it under "
                        "paddle.distributed.launch")
    if not paddle.get_device().startswith("cpu"):
        logger.warning("--to_static_training is implemented for the CPU; training on {} stays in dygraph".format(
            paddle.get_device()))
        return None
    logger.info("--to_static_training: training steps run as an old-IR static graph (oneDNN convolutions)")
    return StaticTrainer(model, losses, optimizer)
