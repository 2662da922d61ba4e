"""Rewrites of the built old-IR training program (after `minimize()`, before the startup run).

`StaticTrainer` applies them on a CPU place with oneDNN; each matches its pattern by the ops' input and
output names (never by position) and leaves every other op alone.

- `onednn_convolutions`: conv2d / conv2d_grad on oneDNN (fp32-exact; the baseline of the static step).
- `onednn_conv_bias` (A, fp32-exact, ~1.3x on a U-Net step): Paddle's `Conv2D` adds its bias as
  `elementwise_add(conv2d output, reshape2(bias) to 1 x C x 1 x 1)`. Paddle's native broadcast add and
  its gradient (a broadcast reduction) take ~20% of the step. The forward add runs on oneDNN; its
  `elementwise_add_grad` cannot (oneDNN fails there with 'Tensor holds no memory'), so it is replaced by
  what it computes: the conv output's gradient IS the add's output gradient (later ops read that instead)
  and the bias gradient is `reduce_sum(Out@GRAD, [0, 2, 3], keep_dim)`. Assumes NCHW and a Y of shape
  1 x C x 1 x 1 (both checked per op).
- `bf16_convolutions` (B, ~1.5x more on AVX512-BF16): conv2d computes in bf16 with fp32 in and out
  (oneDNN reorders its inputs; `force_fp32_output`). Paddle 3.3 reads the attribute `onednn_data_type`
  (not only `mkldnn_data_type`). conv2d_grad ignores that attribute for fp32 inputs, so it gets bf16
  copies of Input, Filter and Output@GRAD (oneDNN casts, the faster ones) and its Input@GRAD /
  Filter@GRAD are cast back to fp32 right after it (plain CPU casts: the oneDNN cast fails there with
  'could not construct a memory descriptor using strides'). Parameters, optimizer state and every other
  op stay fp32. Only ungrouped conv2d (groups == 1) is converted.
"""
from paddle.base import core

BF16, FP32 = core.VarDesc.VarType.BF16, core.VarDesc.VarType.FP32
ONEDNN_OPS = ("conv2d", "conv2d_grad")


def _producers(block):
    return {name: op for op in block.ops for name in op.output_arg_names}


def _single(op, slot):
    names = op.input(slot) if slot in op.input_names else []
    return names[0] if len(names) == 1 else None


def onednn_convolutions(program):
    """Run every conv2d / conv2d_grad on oneDNN. Returns the number of ops set."""
    ops = [op for op in program.global_block().ops if op.type in ONEDNN_OPS]
    for op in ops:
        op._set_attr("use_mkldnn", True)
    return len(ops)


def _is_conv_bias_add(block, op, producers):
    """Whether `op` is `elementwise_add(conv2d NCHW output, reshape2(bias) of shape 1 x C x 1 x 1)`."""
    if op.type != "elementwise_add" or op.attr("axis") not in (-1, 1):
        return False
    x, y = _single(op, "X"), _single(op, "Y")
    conv, reshape = producers.get(x), producers.get(y)
    if conv is None or reshape is None or conv.type != "conv2d" or reshape.type != "reshape2":
        return False
    if conv.attr("data_format") not in ("NCHW", "AnyLayout"):
        return False
    y_shape, x_shape = tuple(block.var(y).shape), tuple(block.var(x).shape)
    return len(x_shape) == 4 and y_shape == (1, x_shape[1], 1, 1)


def onednn_conv_bias(program):
    """Rewrite A (module doc): conv bias adds on oneDNN, their gradients as a rename plus a reduce_sum.

    Returns:
        int: The number of conv bias adds rewritten.
    """
    block = program.global_block()
    producers = _producers(block)
    adds = [op for op in block.ops if _is_conv_bias_add(block, op, producers)]
    keys = {(_single(op, "X"), _single(op, "Y")) for op in adds}
    for op in adds:
        op._set_attr("use_mkldnn", True)
    index = 0
    while index < len(block.ops):
        op = block.ops[index]
        if op.type == "elementwise_add_grad" and (_single(op, "X"), _single(op, "Y")) in keys:
            index = _replace_add_grad(block, index, op)
        index += 1
    return len(adds)


def _replace_add_grad(block, index, op):
    """Replace the elementwise_add_grad at `index`; returns the index of the last op put there."""
    out_grad = _single(op, "Out@GRAD")
    x_grads, y_grads = op.output("X@GRAD"), op.output("Y@GRAD")
    role = op.attr("op_role")
    for later in block.ops[index + 1:]:
        for name in x_grads:
            if name in later.input_arg_names:
                later._rename_input(name, out_grad)
    block._remove_op(index)
    if not y_grads:
        return index - 1
    block._insert_op(index, type="reduce_sum", inputs={"X": [block.var(out_grad)]},
                     outputs={"Out": [block.var(y_grads[0])]},
                     attrs={"dim": [0, 2, 3], "keep_dim": True, "reduce_all": False, "op_role": role})
    return index


def _cast(block, index, src, dst, role, onednn):
    block._insert_op(index, type="cast", inputs={"X": [src]}, outputs={"Out": [dst]},
                     attrs={"in_dtype": src.dtype, "out_dtype": dst.dtype, "use_mkldnn": onednn, "op_role": role})


def _bf16_var(block, name, like):
    return block.vars.get(name) or block.create_var(name=name, dtype=BF16, shape=like.shape, persistable=False)


def bf16_convolutions(program):
    """Rewrite B (module doc): ungrouped conv2d and conv2d_grad compute in bf16 on oneDNN.

    Returns:
        int: The number of conv2d ops converted (their gradients included).
    """
    block = program.global_block()
    converted = 0
    for op in block.ops:
        if op.type == "conv2d" and op.attr("groups") == 1:
            for attr, value in (("use_mkldnn", True), ("onednn_data_type", "bfloat16"),
                                ("mkldnn_data_type", "bfloat16"), ("force_fp32_output", True)):
                op._set_attr(attr, value)
            converted += 1
    index, bf16_copies = 0, {}
    while index < len(block.ops):
        op = block.ops[index]
        if op.type == "conv2d_grad" and op.attr("groups") == 1:
            index = _bf16_conv_grad(block, index, op, bf16_copies)
        index += 1
    return converted


def _bf16_conv_grad(block, index, op, bf16_copies):
    """Cast the inputs of the conv2d_grad at `index` to bf16 and its outputs back; returns its new index.

    `bf16_copies` (fp32 name -> bf16 var) reuses a copy for a value read by several convolutions: the
    backward pass never writes activations or parameters."""
    role = op.attr("op_role")
    for slot in ("Input", "Filter", "Output@GRAD"):
        for name in op.input(slot):
            if block.var(name).dtype != FP32:
                continue
            if name not in bf16_copies:
                bf16_copies[name] = _bf16_var(block, name + ".bf16", block.var(name))
                _cast(block, index, block.var(name), bf16_copies[name], role, onednn=True)
                index += 1
            op._rename_input(name, bf16_copies[name].name)
    grads = [name for slot in ("Input@GRAD", "Filter@GRAD") if slot in op.output_names for name in op.output(slot)]
    for name in grads:
        bf16 = _bf16_var(block, name + ".bf16", block.var(name))
        op._rename_output(name, bf16.name)
        _cast(block, index + 1, bf16, block.var(name), role, onednn=False)
    for attr, value in (("use_mkldnn", True), ("onednn_data_type", "bfloat16"), ("mkldnn_data_type", "bfloat16")):
        op._set_attr(attr, value)
    return index + len(grads)
