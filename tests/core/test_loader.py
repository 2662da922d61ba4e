"""The resumable, sharded sampler and per-sample reseeded augmentation."""
import random
import threading

import numpy as np
import paddle

from paddleseg_lite.core.loader import (EpochBatchSampler, ThreadLoader, SeededDataset, ShardBatchSampler,
                                        build_loader, collate)


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


class RaggedItems(paddle.io.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, index):
        return {"img": np.zeros((2,), np.float32), "info": np.zeros((index + 1,))}


def test_augmentation_depends_only_on_seed_epoch_and_index():
    dataset = SeededDataset(RandomItems(), seed=3)
    forward = [dataset[(1, i)]["img"] for i in range(4)]
    backward = [dataset[(1, i)]["img"] for i in reversed(range(4))][::-1]
    np.testing.assert_array_equal(forward, backward)
    assert not np.array_equal(dataset[(2, 0)]["img"], forward[0])


def test_main_thread_loader_batches_like_paddle():
    batches = list(ThreadLoader(RandomItems(), ShardBatchSampler(4, rank=1, world_size=2)))
    assert [b["img_path"] for b in batches] == [["1"], ["3"]]
    assert batches[0]["img"].shape == [1, 2]


def test_thread_loader_loads_ahead_in_another_thread_and_stops_it_with_the_caller():
    loading_threads = []

    class Recording(RandomItems):
        def __getitem__(self, index):
            loading_threads.append(threading.current_thread())
            return super().__getitem__(index)

    batches = iter(ThreadLoader(Recording(), EpochBatchSampler(4, 1, end_iter=1000)))
    next(batches)
    assert threading.current_thread() not in loading_threads
    thread, = {t for t in threading.enumerate() if t.name == "paddleseg_lite-loader"}
    batches.close()  # what `break` does to the loop's iterator
    assert not thread.is_alive() and len(loading_threads) < 1000


# Hand-written permutations: RandomState((5, 0)).permutation(10) and RandomState((5, 1)).permutation(10).
EPOCH0 = [5, 1, 7, 3, 4, 6, 8, 9, 2, 0]
EPOCH1 = [0, 7, 9, 4, 1, 6, 8, 2, 5, 3]


def test_sampler_batches_follow_the_seeded_permutation_of_each_epoch():
    sampler = EpochBatchSampler(10, 3, seed=5, end_iter=4)
    assert (sampler.iters_per_epoch, len(sampler)) == (3, 4)
    assert list(sampler) == [[(0, 5), (0, 1), (0, 7)], [(0, 3), (0, 4), (0, 6)], [(0, 8), (0, 9), (0, 2)],
                             [(1, 0), (1, 7), (1, 9)]]
    assert list(EpochBatchSampler(10, 3, seed=5, start_iter=2, end_iter=4)) == [
        [(0, 8), (0, 9), (0, 2)], [(1, 0), (1, 7), (1, 9)]]
    assert list(EpochBatchSampler(10, 3, seed=5, start_iter=3, end_iter=4)) == [[(1, 0), (1, 7), (1, 9)]]


def test_sampler_shards_take_every_world_size_th_index_from_the_rank():
    rank1 = EpochBatchSampler(10, 2, seed=5, rank=1, world_size=2, end_iter=3)
    assert rank1.iters_per_epoch == 2
    assert list(rank1) == [[(0, 1), (0, 3)], [(0, 6), (0, 9)], [(1, 7), (1, 4)]]
    rank0 = EpochBatchSampler(10, 2, seed=5, rank=0, world_size=3, start_iter=1, end_iter=2)
    assert rank0.iters_per_epoch == 1
    assert list(rank0) == [[(1, 0), (1, 4)]]


def test_sampler_without_shuffle_and_with_nothing_left():
    assert list(EpochBatchSampler(5, 2, seed=5, shuffle=False, end_iter=3)) == [
        [(0, 0), (0, 1)], [(0, 2), (0, 3)], [(1, 0), (1, 1)]]
    assert list(EpochBatchSampler(5, 2, shuffle=False, rank=1, world_size=2, end_iter=2)) == [[(0, 1), (0, 3)],
                                                                                             [(1, 1), (1, 3)]]
    done = EpochBatchSampler(10, 3, seed=5, start_iter=6, end_iter=4)
    assert (len(done), list(done)) == (0, [])
    assert len(EpochBatchSampler(10, 3)) == 0  # end_iter defaults to 0
    assert list(EpochBatchSampler(4, 2, end_iter=2)) == [[(0, 0), (0, 2)], [(0, 3), (0, 1)]]  # seed 0: [0, 2, 3, 1]


def test_seeded_dataset_reseeds_random_and_numpy_from_seed_epoch_and_index():
    s = 1620210449  # np.random.SeedSequence([3, 1, 2]).generate_state(1)[0]
    random.seed(s)
    np.random.seed(s)
    expected = [random.random(), np.random.rand()]
    dataset = SeededDataset(RandomItems(), seed=3)
    assert len(dataset) == 4
    np.testing.assert_array_equal(dataset[(1, 2)]["img"], np.array(expected, np.float32))
    assert dataset[(1, 2)]["img_path"] == "2"


def test_collate_stacks_equal_arrays_and_keeps_the_rest_as_lists():
    samples = [{"img": np.full((2, 3), i, np.float32), "label": np.zeros((i + 1,)), "img_path": "p{}".format(i),
                "n": i} for i in range(2)]
    batch = collate(samples)
    np.testing.assert_array_equal(batch["img"], [np.zeros((2, 3)), np.ones((2, 3))])
    assert batch["img"].shape == (2, 2, 3)
    assert [a.shape for a in batch["label"]] == [(1,), (2,)]
    assert (batch["img_path"], batch["n"]) == (["p0", "p1"], [0, 1])


def test_loaders_with_and_without_workers_yield_the_same_batches():
    sampler = EpochBatchSampler(4, 2, seed=0, end_iter=2)
    in_thread = build_loader(SeededDataset(RandomItems(), 3), sampler, 0)
    assert isinstance(in_thread, ThreadLoader) and len(in_thread) == 2
    batches = list(in_thread)
    assert [b["img_path"] for b in batches] == [["0", "2"], ["3", "1"]]
    assert isinstance(batches[0]["img"], paddle.Tensor) and batches[0]["img"].shape == [2, 2]
    assert build_loader(SeededDataset(RandomItems(), 3), sampler, 2).num_workers == 2
    workers = list(build_loader(SeededDataset(RandomItems(), 3), sampler, 1))
    assert [b["img_path"] for b in workers] == [["0", "2"], ["3", "1"]]
    np.testing.assert_array_equal(workers[1]["img"].numpy(), batches[1]["img"].numpy())
    ragged, = list(build_loader(RaggedItems(), [[0, 1]], 1))  # collated as in the main thread
    assert [a.shape for a in ragged["info"]] == [(1,), (2,)] and ragged["img"].shape == [2, 2]


def test_shard_batch_sampler_gives_each_rank_every_world_size_th_index():
    sampler = ShardBatchSampler(8, rank=1, world_size=3)
    assert (len(sampler), list(sampler)) == (3, [[1], [4], [7]])
    assert list(ShardBatchSampler(3)) == [[0], [1], [2]]
