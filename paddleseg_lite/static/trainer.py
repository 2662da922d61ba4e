"""`StaticTrainer`: the training step of a dygraph model, loss set and optimizer as an old-IR static program.

Paddle 3.3 dygraph training on a CPU is slow; the same step as an old-IR static program with oneDNN
on the convolutions (forward and backward) gives the same losses (~1e-7) and is faster (2-3x on a
2-core CPU). `StaticTrainer` keeps its own copy of the training state in a private scope:

- parameters and BatchNorm statistics keep their dygraph tensor names (the model's forward is traced
  with each parameter replaced by a static Parameter of the same name and attributes);
- the static optimizer mirrors the dygraph one (`optimizer_state.mirror_optimizer`) and shares its LR
  scheduler object, so the caller's `scheduler.step()` drives both;
- `sync_from(model, optimizer)` / `sync_to(model, optimizer)` copy parameters, BatchNorm statistics
  and optimizer accumulators between the static scope and the dygraph objects, matched by state_dict
  key, so checkpoints, evaluation and resume keep using the dygraph objects unchanged;
- with an EMA of the weights (`ema`, a `core.ema.ModelEMA`), the program ends with its update,
  `ema = ema * decay + weights * (1 - decay)` on every state entry (float32 factors fed per step:
  `ema.factors(it)`), kept in `ema_<var>` scope variables and synced with `ema.tensors()` like the rest.

The program is built at the first `step` (from that batch's shapes). A model or loss whose forward
cannot be traced (data-dependent Python control flow, `.numpy()`, ...) raises a UserError.
"""
import numpy as np
import paddle
from paddle.base import framework, unique_name
from paddle.optimizer.lr import LRScheduler

from paddleseg_lite.models.losses import LossSet
from paddleseg_lite.static.legacy_ops import flags, legacy_ops, old_static_graph, static_parameters
from paddleseg_lite.static.optimizer_state import DISABLE_HINT, ensure_accumulators, mirror_optimizer, set_tensor
from paddleseg_lite.static.rewrites import bf16_convolutions, onednn_conv_bias, onednn_convolutions
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.labels import check_label_values, num_classes_of, squeeze_label

PRECISIONS = ("fp32", "bf16")


def _leaf_losses(loss):
    subs = getattr(loss, "losses", None)
    if isinstance(subs, paddle.nn.LayerList):
        return [leaf for sub in subs for leaf in _leaf_losses(sub)]
    return [loss]


def _first_line(e):
    text = (str(e).strip().splitlines() or [""])[0]
    for tail in (" If you are using @to_static", " Suggestions:"):
        text = text.split(tail)[0]
    return "{}: {}".format(type(e).__name__, text)


def _check_precision(precision, onednn):
    if precision not in PRECISIONS:
        raise UserError("StaticTrainer: precision must be one of {}, got {!r}".format(
            ", ".join(PRECISIONS), precision))
    if precision == "bf16" and not (onednn and paddle.base.core.supports_bfloat16()):
        raise UserError("bf16 training needs oneDNN on a CPU with bf16 support (AVX512-BF16 or AMX), which "
                        "this run lacks; train in fp32")
    return precision


def _to_numpy(x):
    return x.numpy() if isinstance(x, paddle.Tensor) else np.asarray(x)


class StaticTrainer:
    """Train `model` with `loss_set` and `optimizer` as an old-IR static program (see the module doc).

    Args:
        model (paddle.nn.Layer): The dygraph model; its forward is traced at the first `step`.
        loss_set (LossSet | dict): The weighted losses (or PaddleSeg's `{'types', 'coef'}` dict).
        optimizer (paddle.optimizer.Optimizer): The dygraph optimizer of `model` (SGD, Momentum, Adam,
            AdamW); its LR scheduler is shared with the static program.
        onednn (bool): Run conv2d / conv2d_grad and the conv bias adds with oneDNN on the CPU (fp32-exact,
            `rewrites`). Default True.
        precision (str): "fp32" (default) or "bf16": convolutions computed in bf16 (oneDNN, needs `onednn`
            and a CPU with bf16 support); everything else stays fp32.
        ema (ModelEMA, optional): The EMA of the weights, updated by the program after each update.

    Usage: `values = trainer.step(img, label)` per iteration (then step the LR scheduler as in dygraph);
    `trainer.sync_to(model, optimizer)` before evaluating or saving the dygraph objects;
    `trainer.sync_from(model, optimizer)` after loading a checkpoint into them.
    """

    def __init__(self, model, loss_set, optimizer, onednn=True, precision="fp32", ema=None):
        self.model, self.loss_set, self.optimizer = model, LossSet.coerce(loss_set), optimizer
        self.ema, self.ema_vars = ema, {}  # ema_vars: state_dict key -> static var name of its EMA
        self.place = framework._current_expected_place()
        self.onednn = onednn and isinstance(self.place, paddle.CPUPlace)
        self.precision = _check_precision(precision, self.onednn)
        self.scope = paddle.static.Scope()
        self.exe = paddle.static.Executor(self.place)
        self.program = None
        self.shapes = None
        self.num_classes = None
        self.vars = {}           # state_dict key -> static var name
        self.accumulators = {}   # (accumulator kind, state_dict key of the parameter) -> static var name

    # ------------------------------------------------------------------ build
    def _trace(self, img, label):
        try:
            logits_list = self.model(img)
        except UserError:
            raise
        except Exception as e:  # noqa: BLE001 - any tracing failure becomes one clear message
            raise UserError("--to_static_training: the model {} cannot be built as a static graph ({}); "
                            "{}".format(type(self.model).__name__, _first_line(e), DISABLE_HINT))
        try:
            return logits_list, self.loss_set(logits_list, label)
        except UserError:
            raise
        except Exception as e:  # noqa: BLE001
            failing = self._failing_loss(logits_list, label) or "loss"
            raise UserError("--to_static_training: the {} cannot be built as a static graph ({}); use "
                            "another loss or {}".format(failing, _first_line(e), DISABLE_HINT))

    def _failing_loss(self, logits_list, label):
        """The name of the first loss that fails to trace (the program is discarded afterwards)."""
        for logits, loss in zip(logits_list, self.loss_set.losses):
            for leaf in _leaf_losses(loss):
                try:
                    leaf(logits, label)
                except Exception:  # noqa: BLE001
                    return "loss " + type(leaf).__name__
        return None

    def build(self, img_shape, label_shape, img_dtype="float32"):
        """Build the program for batches of these shapes from the current state of the model and optimizer
        (done by the first `step` when not called before)."""
        self._build(img_shape, label_shape, img_dtype)
        self.sync_from(self.model, self.optimizer)

    def _build(self, img_shape, label_shape, img_dtype):
        if not self.model.training:
            raise UserError("StaticTrainer: call model.train() before the first step")
        state = self.model.state_dict()
        with old_static_graph():
            main, startup = paddle.static.Program(), paddle.static.Program()
            with paddle.static.program_guard(main, startup), unique_name.guard("static_train_"), \
                    legacy_ops(), static_parameters(self.model) as converted:
                img = paddle.static.data("img", list(img_shape), img_dtype)
                label = paddle.static.data("label", list(label_shape), "int64")
                logits_list, loss_list = self._trace(img, label)
                total = loss_list[0]
                for term in loss_list[1:]:
                    total = total + term
                params = [converted[p.name] for p in self.optimizer._parameter_list]
                static_opt = mirror_optimizer(self.optimizer, params)
                static_opt.minimize(total)
                ema_vars = self._append_ema(main, state, converted) if self.ema is not None else {}
            rewritten = self._rewrite(main)
            self.exe.run(startup, scope=self.scope)
        self.vars = {key: t.name for key, t in state.items() if t.name in converted}
        key_of = {t.name: key for key, t in state.items()}
        self.accumulators = {(kind, key_of[pname]): var.name for kind, per_param in static_opt._accumulators.items()
                             for pname, var in per_param.items() if pname in key_of}
        self.program, self.fetch, self.ema_vars = main, loss_list, ema_vars
        self.static_optimizer = static_opt
        self.shapes = (tuple(img_shape), tuple(label_shape))
        self.num_classes = num_classes_of(logits_list[0].shape[1])
        logger.info("Static training step: built an old-IR static program ({} ops, {})".format(
            len(main.global_block().ops), rewritten))

    def _append_ema(self, program, state, converted):
        """Append the EMA update after the optimizer's ops; returns {state_dict key: EMA var name}."""
        decay = paddle.static.data("ema_decay", [1], "float32")
        rest = paddle.static.data("ema_rest", [1], "float32")
        names = {}
        for key, tensor in self.ema.tensors().items():
            live = converted.get(state[key].name)
            if live is None:  # not in the program (an unused layer): its EMA keeps the model's value
                continue
            ema = program.global_block().create_var(name="ema_" + live.name, shape=live.shape, dtype=live.dtype,
                                                    persistable=True)
            paddle.assign(ema * decay + live * rest if paddle.is_floating_point(tensor) else live, output=ema)
            names[key] = ema.name
        return names

    def _rewrite(self, program):
        """Apply the program rewrites (`rewrites`); returns what was done, for the build log line."""
        if not self.onednn:
            return "oneDNN on nothing"
        onednn_convolutions(program)
        done = "oneDNN on conv2d" + (" + conv bias" if onednn_conv_bias(program) else "")
        if self.precision == "bf16" and bf16_convolutions(program):
            done += ", bf16 convolutions"
        return done

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
        ensure_accumulators(optimizer)
        for (kind, key), name in self.accumulators.items():
            pairs.append((name, optimizer._accumulators[kind][state[key].name]))
        if self.ema_vars:
            tensors = self.ema.tensors()
            pairs.extend((name, tensors[key]) for key, name in self.ema_vars.items())
        return pairs

    def sync_from(self, model, optimizer):
        """Copy parameters, BatchNorm statistics, optimizer accumulators, the EMA and the LR scheduler state from
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
            set_tensor(tensor, self._scope_get(name))
        self._copy_scheduler(self.static_optimizer._learning_rate, optimizer._learning_rate)

    @staticmethod
    def _copy_scheduler(src, dst):
        if src is not dst and isinstance(src, LRScheduler) and isinstance(dst, LRScheduler):
            dst.set_state_dict(src.state_dict())

    # ------------------------------------------------------------------ step
    def check_labels(self, label):
        """The losses' label check (`utils.labels.check_label_values`), on the numpy batch."""
        for loss in self.loss_set.losses:
            for leaf in _leaf_losses(loss):
                ignore = getattr(leaf, "ignore_index", None)
                if ignore is not None:
                    check_label_values(label, self.num_classes, ignore, type(leaf).__name__)

    def step(self, img, label, it=None):
        """One optimization step on a batch (N x C x H x W image, N x H x W labels; Tensors or arrays), as
        iteration `it` (1-based; needed with an EMA, for its decay).

        Returns:
            list[float]: The loss terms (as `LossSet`), computed before the update.
        """
        img, label = _to_numpy(img), _to_numpy(label).astype("int64")
        label = squeeze_label(label)
        if self.program is None:
            self.build(img.shape, label.shape, str(img.dtype))
        elif (img.shape, label.shape) != self.shapes:
            raise UserError("--to_static_training needs batches of one shape: the program was built for {} "
                            "but got {}; crop/resize training images to a fixed size or {}".format(
                                self.shapes[0], img.shape, DISABLE_HINT))
        self.check_labels(label)
        feed = {"img": img, "label": label}
        if self.ema_vars:
            feed.update(zip(("ema_decay", "ema_rest"), (np.array([f], "float32") for f in self.ema.factors(it))))
        with old_static_graph(), flags({"FLAGS_new_executor_serial_run": True}):
            values = self.exe.run(self.program, feed=feed, fetch_list=self.fetch, scope=self.scope)
        return [float(np.asarray(v).reshape(-1)[0]) for v in values]
