"""Multi-process training on top of `paddle.distributed.launch`: what differs from one process.

DataParallel averages gradients, but without SyncBatchNorm (CPU) each rank's BatchNorm statistics
follow its own data shard: `average_buffers` averages them over ranks at each save point (MMEngine's
SyncBuffersHook), so every rank evaluates and ends with the same model; `log_final_checksum` checks it.
"""
import paddle

from paddleseg_lite.core.checkpoint_files import checksum
from paddleseg_lite.utils import logger


def wrap_parallel(model, world_size):
    """`model` itself in one process, else DataParallel (joining the process group if needed)."""
    if world_size < 2:
        return model
    if not paddle.distributed.is_initialized():
        paddle.distributed.init_parallel_env()
    return paddle.DataParallel(model)


def average_buffers(model, world_size):
    """Average the non-trained float state (BatchNorm running mean/variance) over ranks."""
    if world_size < 2:
        return
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.stop_gradient and paddle.is_floating_point(tensor):
            paddle.distributed.all_reduce(tensor)
            tensor.set_value(tensor / world_size)


def log_final_checksum(model, world_size):
    """Log a digest of the final weights; in multi-process runs, check that every rank has the same."""
    digest = checksum(model.state_dict())
    if world_size < 2:
        logger.info("Final weights checksum: {}".format(digest))
        return
    digests = []
    paddle.distributed.all_gather_object(digests, digest)
    if len(set(digests)) == 1:
        logger.info("Final weights checksum: {} (the same on all {} ranks)".format(digest, world_size))
    else:
        logger.error("Final weights differ between ranks: {}".format(", ".join(
            "rank {}: {}".format(r, d) for r, d in enumerate(digests))))
