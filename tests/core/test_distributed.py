"""Two CPU processes under `python -m paddle.distributed.launch` (gloo): DataParallel training ends with
the same weights on both ranks (rank 0 checks and logs it), equal to rank 0's checkpoint, and the
sharded in-training evaluation reports what a single process reports for that checkpoint."""
import hashlib
import logging
import random
import re
import subprocess
import sys

import numpy as np
import paddle
import pytest

from paddleseg_lite.core import checkpoint_files
from paddleseg_lite.core.distributed import average_buffers, log_final_checksum, wrap_parallel
from paddleseg_lite.cvlibs import Config
from tool_runner import CONFIG, ENV, ROOT, TINY, run_tool, tool_cmd


def test_two_process_training_agrees_across_ranks_and_with_one_process_eval(tmp_path):
    out, logs = tmp_path / "out", tmp_path / "logs"
    train = tool_cmd("train", "--iters", 4, "--save_interval", 2, "--log_iters", 1, "--do_eval", "--seed", 1,
                     "--save_dir", out)
    launch = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir", str(logs)]
    proc = subprocess.run(launch + train[1:], capture_output=True, text=True, timeout=300, cwd=ROOT, env=ENV)
    rank0 = (logs / "workerlog.0").read_text()
    assert proc.returncode == 0, rank0[-3000:] + (logs / "workerlog.1").read_text()[-3000:]
    match = re.search(r"Final weights checksum: ([0-9a-f]+) \(the same on all 2 ranks\)", rank0)
    assert match, rank0[-3000:]
    assert checkpoint_files.checksum(paddle.load(str(out / "iter_4" / "model.pdparams"))) == match.group(1)
    assert len(re.findall(r"\[TRAIN\] epoch: 1, iter: \d/4", rank0)) == 4  # 16 samples / (2 ranks x 2)
    distributed_eval = re.findall(r"\[EVAL\] #Images: 4 .*", rank0)[-1]
    single = run_tool("val", "--model_path", out / "iter_4" / "model.pdparams")
    assert single.returncode == 0, single.stderr[-2000:]
    assert re.search(r"\[EVAL\] #Images: 4 .*", single.stdout).group(0) == distributed_eval


SEED, BATCH, RANKS = 1, 2, 2


def shard_batches(rank):
    """This rank's batches of epoch 0, from the sampler's contract written out by hand: the epoch-0 order
    is RandomState((seed, 0)).permutation(16), rank r takes every 2nd index from r, batches of 2."""
    mine = np.random.RandomState([SEED, 0]).permutation(16)[rank::RANKS]
    return [mine[:BATCH], mine[BATCH:2 * BATCH]]


def augmented(dataset, index):
    """Sample `index` of epoch 0 with the loader's contract: random and numpy reseeded from (seed, epoch, index)."""
    s = int(np.random.SeedSequence([SEED, 0, int(index)]).generate_state(1)[0])
    random.seed(s)
    np.random.seed(s)
    return dataset[int(index)]["img"]


def bn_statistics_of_rank(cfg, weights, rank):
    """The BatchNorm running statistics one rank computes alone: the saved (untrained) weights, buffers back
    at their initial values, the rank's two batches through the model in train mode."""
    model = cfg.model
    model.set_state_dict(weights)
    for layer in model.sublayers():
        if isinstance(layer, paddle.nn.BatchNorm2D):
            layer._mean.set_value(paddle.zeros_like(layer._mean))
            layer._variance.set_value(paddle.ones_like(layer._variance))
    model.train()
    with paddle.no_grad():
        for batch in shard_batches(rank):
            model(paddle.to_tensor(np.stack([augmented(cfg.train_dataset, i) for i in batch])))
    return {k: v.numpy() for k, v in model.state_dict().items() if k.endswith(("_mean", "_variance"))}


def test_saved_batchnorm_statistics_are_the_mean_of_each_ranks_own(tmp_path):
    """learning_rate 0: the weights stay at their initial values, so each rank's running statistics after 2
    iterations can be replayed here from its shard; the checkpoint must hold their mean over the ranks."""
    out, logs = tmp_path / "out", tmp_path / "logs"
    opts = ("lr_scheduler.learning_rate=0.0", "lr_scheduler.end_lr=0.0")
    train = tool_cmd("train", "--iters", 2, "--save_interval", 2, "--seed", SEED, "--save_dir", out, opts=opts)
    launch = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir", str(logs)]
    proc = subprocess.run(launch + train[1:], capture_output=True, text=True, timeout=300, cwd=ROOT, env=ENV)
    assert proc.returncode == 0, (logs / "workerlog.0").read_text()[-3000:]
    saved = {k: v.numpy() for k, v in paddle.load(str(out / "iter_2" / "model.pdparams")).items()}
    cfg = Config(CONFIG, opts=list(TINY) + list(opts))
    ranks = [bn_statistics_of_rank(cfg, saved, r) for r in range(RANKS)]
    assert len(ranks[0]) == 2 * 18  # UNet: 18 BatchNorm layers, mean and variance each
    for name in ranks[0]:
        np.testing.assert_allclose(saved[name], (ranks[0][name] + ranks[1][name]) / 2, rtol=1e-4, atol=1e-5,
                                   err_msg=name)
    def gap(other):
        return max(np.abs(saved[k] - other[k]).max() for k in ranks[0])
    summed = {k: ranks[0][k] + ranks[1][k] for k in ranks[0]}
    gaps = [gap(summed), gap(ranks[0]), gap(ranks[1])]  # the tolerance above is 1e-4 relative
    assert gaps[0] > 0.5 and min(gaps[1:]) > 1e-2, gaps


# ---- In-process checks of core.distributed with stand-ins for paddle.distributed ---------------------------
W_DIGEST = hashlib.sha256(b"w" + b"float32" + np.float32(1.0).tobytes()).hexdigest()[:16]  # checksum of w = 1


class OneWeight(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.w = self.create_parameter([1], default_initializer=paddle.nn.initializer.Constant(1.0))


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append((record.levelno, record.getMessage()))


def test_average_buffers_divides_the_sum_over_ranks_and_leaves_parameters(monkeypatch):
    """A stand-in all_reduce sums two ranks holding the same buffers: averaging gives them back unchanged."""
    bn = paddle.nn.BatchNorm2D(2)
    bn._mean.set_value(paddle.to_tensor([1.0, -3.0]))
    bn._variance.set_value(paddle.to_tensor([2.0, 0.5]))
    reduced = []

    def all_reduce(tensor):
        reduced.append(tensor.name)
        tensor.set_value(tensor * 2)

    monkeypatch.setattr(paddle.distributed, "all_reduce", all_reduce)
    average_buffers(bn, 2)
    assert sorted(reduced) == sorted([bn._mean.name, bn._variance.name])
    np.testing.assert_array_equal(bn._mean.numpy(), [1.0, -3.0])
    np.testing.assert_array_equal(bn._variance.numpy(), [2.0, 0.5])
    average_buffers(bn, 1)
    assert len(reduced) == 2


@pytest.mark.parametrize("other, level, message", [
    (W_DIGEST, logging.INFO, "Final weights checksum: {} (the same on all 2 ranks)".format(W_DIGEST)),
    ("cd34", logging.ERROR, "Final weights differ between ranks: rank 0: {}, rank 1: cd34".format(W_DIGEST))],
    ids=["same", "different"])
def test_multi_process_runs_compare_the_final_checksums(monkeypatch, other, level, message):
    """A stand-in all_gather_object: this process is rank 0 of 2, rank 1 reports `other`."""
    def all_gather_object(out, obj):
        out.extend([obj, other])

    monkeypatch.setattr(paddle.distributed, "all_gather_object", all_gather_object)
    handler = Records()
    logging.getLogger("paddleseg_lite").addHandler(handler)
    try:
        log_final_checksum(OneWeight(), 2)
        log_final_checksum(OneWeight(), 1)
    finally:
        logging.getLogger("paddleseg_lite").removeHandler(handler)
    assert handler.records == [(level, message), (logging.INFO, "Final weights checksum: {}".format(W_DIGEST))]


class DistributedStandIn:
    """paddle.distributed of rank 1 in a 2-process job, for the code that only runs under launch."""

    def __init__(self, monkeypatch, initialized):
        self.inits, self.wrapped = 0, []
        monkeypatch.setattr(paddle.distributed, "get_rank", lambda: 1)
        monkeypatch.setattr(paddle.distributed, "get_world_size", lambda: 2)
        monkeypatch.setattr(paddle.distributed, "is_initialized", lambda: initialized)
        monkeypatch.setattr(paddle.distributed, "init_parallel_env", self.init)
        monkeypatch.setattr(paddle, "DataParallel", lambda model: self.wrapped.append(model) or "wrapped")

    def init(self):
        self.inits += 1


@pytest.mark.parametrize("initialized, inits", [(False, 1), (True, 0)])
def test_two_processes_wrap_the_model_in_data_parallel(monkeypatch, initialized, inits):
    dist, model = DistributedStandIn(monkeypatch, initialized), OneWeight()
    assert wrap_parallel(model, 2) == "wrapped"
    assert (dist.wrapped, dist.inits) == ([model], inits)
    assert wrap_parallel(model, 1) is model and dist.wrapped == [model]
