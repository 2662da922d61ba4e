"""Two CPU processes under `python -m paddle.distributed.launch` (gloo): DataParallel training ends with
the same weights on both ranks (rank 0 checks and logs it), equal to rank 0's checkpoint, and the
sharded in-training evaluation reports what a single process reports for that checkpoint."""
import random
import re
import subprocess
import sys

import numpy as np
import paddle

from paddleseg_lite.core import checkpoint
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
    assert checkpoint.checksum(paddle.load(str(out / "iter_4" / "model.pdparams"))) == match.group(1)
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
