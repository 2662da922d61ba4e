"""The resumable, sharded sampler and per-sample reseeded augmentation."""
import random

import numpy as np

from paddleseg_lite.core.loader import EpochBatchSampler, MainThreadLoader, SeededDataset, ShardBatchSampler


def test_a_sampler_started_mid_run_yields_the_tail_of_the_full_run():
    full = list(EpochBatchSampler(10, 3, seed=5, end_iter=11))
    assert len(full) == 11  # 3 batches per epoch, drop_last
    for start in (0, 2, 3, 7):
        assert list(EpochBatchSampler(10, 3, seed=5, start_iter=start, end_iter=11)) == full[start:]
    assert {e for batch in full for e, _ in batch} == {0, 1, 2, 3}
    epoch0 = [i for batch in full[:3] for _, i in batch]
    assert len(set(epoch0)) == 9


def test_shards_are_disjoint_and_seed_dependent():
    shards = [list(EpochBatchSampler(12, 2, seed=1, rank=r, world_size=3, end_iter=2)) for r in range(3)]
    indices = [i for shard in shards for batch in shard for _, i in batch]
    assert sorted(indices) == list(range(12))
    assert list(EpochBatchSampler(12, 2, seed=2, end_iter=6)) != list(EpochBatchSampler(12, 2, seed=1, end_iter=6))


class RandomItems:
    def __len__(self):
        return 4

    def __getitem__(self, index):
        return {"img": np.array([random.random(), np.random.rand()], np.float32), "img_path": str(index)}


def test_augmentation_depends_only_on_seed_epoch_and_index():
    dataset = SeededDataset(RandomItems(), seed=3)
    forward = [dataset[(1, i)]["img"] for i in range(4)]
    backward = [dataset[(1, i)]["img"] for i in reversed(range(4))][::-1]
    np.testing.assert_array_equal(forward, backward)
    assert not np.array_equal(dataset[(2, 0)]["img"], forward[0])


def test_main_thread_loader_batches_like_paddle():
    batches = list(MainThreadLoader(RandomItems(), ShardBatchSampler(4, rank=1, world_size=2)))
    assert [b["img_path"] for b in batches] == [["1"], ["3"]]
    assert batches[0]["img"].shape == [1, 2]
