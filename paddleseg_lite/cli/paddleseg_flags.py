"""PaddleSeg's tool flags beyond the core ones: taken with PaddleSeg's meaning, or refused in one line saying why.

    train    --use_ema --repeats (run knobs: `cvlibs.run_settings`), --profiler_options (`core.profiler`),
             --data_format, --use_multilabel, --device xpu|npu|mlu
    val      --data_format, --use_multilabel
    predict  --use_multilabel, --device_id
    export   --for_fd (FastDeploy's file names: `deploy.export`)

`--data_format NHWC` (PaddleSeg: DeepLabV3P only) and `--use_multilabel` (several classes per pixel) are
refused: every paddleseg_lite model is NCHW with one class per pixel. `--device xpu|npu|mlu` selects the
accelerator as PaddleSeg does when this PaddlePaddle build has it (PaddleSeg silently trains on the CPU
instead when it has not; here that is an error).
"""
import paddle

from paddleseg_lite.core.profiler import parse_profiler_options
from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError

ACCELERATORS = ("xpu", "npu", "mlu")
DEVICES = ("cpu", "gpu") + ACCELERATORS


def add_data_format_arg(parser):
    parser.add_argument("--data_format", default="NCHW", help="input layout: NCHW (PaddleSeg's NHWC is for "
                                                              "DeepLabV3P only; not supported here)")


def add_multilabel_arg(parser):
    parser.add_argument("--use_multilabel", action="store_true", help="PaddleSeg's multilabel mode (not supported: "
                                                                      "one class per pixel)")


def add_profiler_arg(parser):
    parser.add_argument("--profiler_options", default=None, help="profile a range of iterations with "
                        "paddle.profiler, PaddleSeg's format: \"batch_range=[10,20];timer_only=False\"")


def add_device_id_arg(parser):
    parser.add_argument("--device_id", type=int, default=None, help="which GPU (or xpu/npu/mlu) to use (default 0)")


def add_for_fd_arg(parser):
    parser.add_argument("--for_fd", action="store_true", help="FastDeploy's names: inference.pdmodel, "
                                                              "inference.pdiparams, inference.yml")


def check_flags(args):
    """Refuse PaddleSeg flags that cannot take effect here, before any work (each flag only if the tool has it).

    Raises:
        UserError: --data_format other than NCHW, --use_multilabel, malformed --profiler_options, --for_fd
            with --format onnx.
    """
    data_format = getattr(args, "data_format", "NCHW")
    if data_format != "NCHW":
        raise UserError("--data_format {}: paddleseg_lite's models take NCHW input only (PaddleSeg accepts NHWC "
                        "for DeepLabV3P alone); leave the flag out".format(data_format))
    if getattr(args, "use_multilabel", False):
        raise UserError("--use_multilabel: multilabel mode (several classes per pixel, one sigmoid each) is not "
                        "supported; paddleseg_lite's models give one class per pixel (softmax, or one sigmoid "
                        "channel for two classes)")
    if getattr(args, "profiler_options", None):
        parse_profiler_options(args.profiler_options)
    if getattr(args, "for_fd", False) and args.format != "paddle":
        raise UserError("--for_fd names a Paddle Inference export for FastDeploy (inference.pdmodel, "
                        "inference.pdiparams, inference.yml); it does not apply to --format {}".format(args.format))


def _has_accelerator(device):
    if device == "xpu":
        return paddle.is_compiled_with_xpu()
    return device in paddle.device.get_all_custom_device_type()


def device_place(device, device_id=None):
    """The place string for `--device` (already resolved to cpu/gpu/xpu/npu/mlu) and `--device_id`.

    Raises:
        UserError: an accelerator this PaddlePaddle build lacks, or a device id out of range.
    """
    if device in ACCELERATORS and not _has_accelerator(device):
        raise UserError("--device {0}: this PaddlePaddle build has no {1} support; install PaddlePaddle's {1} "
                        "build (paddlepaddle.org.cn) or use --device cpu|gpu".format(device, device.upper()))
    if device == "cpu":
        if device_id:
            logger.warning("--device_id {} is ignored on the cpu".format(device_id))
        return device
    if device_id is None:
        return device
    count = paddle.device.cuda.device_count() if device == "gpu" else None
    if device_id < 0 or (count is not None and device_id >= count):
        raise UserError("--device_id {}: {} has {} visible device(s) (ids 0..{})".format(
            device_id, device, count, (count or 1) - 1))
    return "{}:{}".format(device, device_id)
