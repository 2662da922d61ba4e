"""The static program's optimizer, mirrored from the dygraph one, and the state both share.

The only module of the package that reads Paddle optimizers' private attributes (hyper-parameters,
accumulators): the old static graph needs its own optimizer object with the same settings, and
checkpoints keep using the dygraph optimizer's state_dict.
"""
import numpy as np
import paddle
from paddle.base import framework

from paddleseg_lite.utils.errors import UserError

DISABLE_HINT = "train without --to_static_training (or set to_static_training: False in the config)"


def mirror_optimizer(optimizer, parameters):
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


def ensure_accumulators(optimizer):
    """Create the dygraph optimizer's accumulators now (as its first `step` would, loading a resumed
    state_dict held in `_accumulators_holder`), so they can be read and written."""
    params = [p for p in optimizer._parameter_list if not p.stop_gradient]
    with paddle.no_grad():
        optimizer._create_accumulators(framework.default_main_program().global_block(), params)


def set_tensor(tensor, value):
    with paddle.no_grad():
        tensor.set_value(np.ascontiguousarray(value, dtype=tensor.numpy().dtype).reshape(tensor.shape))
