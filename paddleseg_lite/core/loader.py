"""Data loading for the loops: a resumable, rank-aware sampler and reproducible augmentation.

Each sample is requested as `(epoch, index)`. `SeededDataset` reseeds Python's `random` and NumPy's
global generator from `(seed, epoch, index)` before running the transforms, so a sample's augmentation
depends on nothing else: not on the number of workers, on prefetching, or on where a resumed run
started. `EpochBatchSampler` shuffles with a generator keyed by `(seed, epoch)`, shards the order over
ranks, and can start in the middle of an epoch.

With `num_workers=0` batches are loaded by one background thread of ours (`ThreadLoader`), so loading
overlaps the training step (Paddle's kernels and OpenCV release the GIL) instead of adding to it.
It reseeds the global `random` / `np.random` per sample while the caller works: the training loop
draws nothing from them (the step uses Paddle's generator). Paddle's own single-process DataLoader
is not used: its thread, left blocked when a loop stops early, aborts the interpreter at exit; ours
is stopped and joined whenever the caller stops iterating. With workers (`WorkerLoader`) or without,
a UserError raised while loading a batch reaches the caller as itself.
"""
import queue
import random
import threading

import numpy as np
import paddle

from paddleseg_lite.utils.errors import UserError
from paddleseg_lite.utils.validate import check_int

# The key of the batch a worker returns in place of one whose loading raised a UserError (`_error_batch`).
USER_ERROR_KEY = "_user_error"


def sample_seed(seed, epoch, index):
    """A 32-bit seed that is a pure function of (seed, epoch, index)."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


class SeededDataset(paddle.io.Dataset):
    """Wrap a dataset so that item `(epoch, index)` is augmented reproducibly."""

    def __init__(self, dataset, seed):
        self.dataset = dataset
        self.seed = seed

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, index = key
        s = sample_seed(self.seed, epoch, index)
        random.seed(s)
        np.random.seed(s)
        return self.dataset[index]


class RepeatedDataset(paddle.io.Dataset):
    """`dataset` `repeats` times over, as PaddleSeg's `--repeats` multiplies the train file list: item i is
    `dataset[i % len(dataset)]`, so an epoch holds every sample `repeats` times (each copy augmented with
    its own seed by `SeededDataset`). Other attributes are the dataset's."""

    def __init__(self, dataset, repeats):
        self.dataset, self.repeats = dataset, repeats

    def __len__(self):
        return len(self.dataset) * self.repeats

    def __getitem__(self, index):
        return self.dataset[index % len(self.dataset)]

    def __getattr__(self, name):
        if name == "dataset":  # not set yet (unpickling in a worker)
            raise AttributeError(name)
        return getattr(self.dataset, name)


def repeat_dataset(dataset, repeats):
    """`dataset` itself for repeats 1, else a `RepeatedDataset`."""
    return dataset if repeats == 1 else RepeatedDataset(dataset, repeats)


def batch_shapes(dataset, batch_size, seed):
    """The (image, label) shapes of a training batch, (N, C, H, W) and (N, H, W), from the dataset's first
    sample (the static step builds its program from them before training). The global random state
    is left as it was."""
    states = random.getstate(), np.random.get_state()
    try:
        sample = SeededDataset(dataset, seed)[(0, 0)]
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
    return (batch_size, *np.shape(sample["img"])), (batch_size, *np.shape(sample["label"])[-2:])


class EpochBatchSampler(paddle.io.Sampler):
    """Yields lists of `(epoch, index)`: shuffled per epoch, sharded over ranks, drop_last.

    Args:
        num_samples (int): Dataset length.
        batch_size (int): Samples per batch on each rank.
        seed (int): Shuffle seed; epoch e uses the permutation of RandomState((seed, e)).
        shuffle (bool): Shuffle each epoch.
        rank (int), world_size (int): This process's shard.
        start_iter (int): Global iterations already done; the sampler skips them.
        end_iter (int): The sampler stops after this global iteration.
    """

    def __init__(self, num_samples, batch_size, seed=0, shuffle=True, rank=0, world_size=1, start_iter=0,
                 end_iter=0):
        self.num_samples, self.batch_size = num_samples, batch_size
        self.seed, self.shuffle = seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.iters_per_epoch = num_samples // world_size // batch_size
        self.start_iter, self.end_iter = start_iter, end_iter

    def __len__(self):
        return max(self.end_iter - self.start_iter, 0)

    def epoch_batches(self, epoch):
        order = np.arange(self.num_samples)
        if self.shuffle:
            order = np.random.RandomState([self.seed, epoch]).permutation(self.num_samples)
        mine = order[self.rank::self.world_size]
        return [[(epoch, int(i)) for i in mine[b * self.batch_size:(b + 1) * self.batch_size]]
                for b in range(self.iters_per_epoch)]

    def __iter__(self):
        """Epoch after epoch, from `start_iter` up to `end_iter`."""
        epoch, skip = divmod(self.start_iter, self.iters_per_epoch)
        remaining = len(self)
        while remaining > 0:
            for batch in self.epoch_batches(epoch)[skip:skip + remaining]:
                remaining -= 1
                yield batch
            epoch, skip = epoch + 1, 0


def collate(samples):
    """Stack equally shaped arrays; keep everything else (paths, trans_info) as lists.

    Raises:
        UserError: the images (`img`, the model input) differ in size.
    """
    check_same_image_size(samples)
    batch = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        same_shape = all(isinstance(v, np.ndarray) and v.shape == values[0].shape for v in values)
        batch[key] = np.stack(values) if same_shape else values
    return batch


def check_same_image_size(samples):
    """Raise a UserError naming two samples whose `img` arrays differ in shape (they cannot be stacked)."""
    first = samples[0]
    for sample in samples[1:] if "img" in first else []:
        if sample["img"].shape != first["img"].shape:
            raise UserError(
                "images of different sizes in one batch: '{}' is {} and '{}' is {} (WxH) after the transforms; "
                "add a RandomPaddingCrop (crop_size) or Resize (target_size) to train_dataset.transforms so "
                "that every image comes out the same size, or set batch_size: 1".format(
                    first.get("img_path"), _size(first["img"]), sample.get("img_path"), _size(sample["img"])))


def _size(chw):
    return "{}x{}".format(chw.shape[-1], chw.shape[-2])


class ThreadLoader:
    """Batches of `dataset` as Paddle's DataLoader returns them, loaded up to `PREFETCH` ahead by a
    background thread; an exception met there is raised in the caller's thread, after the batches
    before it."""

    PREFETCH = 2

    def __init__(self, dataset, batch_sampler):
        self.dataset, self.batch_sampler = dataset, batch_sampler

    def __len__(self):
        return len(self.batch_sampler)

    def __iter__(self):
        batches, stop = queue.Queue(self.PREFETCH), threading.Event()
        thread = threading.Thread(target=self._produce, args=(batches, stop), name="paddleseg_lite-loader",
                                  daemon=True)
        thread.start()
        try:
            while True:
                batch = batches.get()
                if batch is None:
                    return
                if isinstance(batch, BaseException):
                    raise batch
                yield {k: paddle.to_tensor(v) if isinstance(v, np.ndarray) else v for k, v in batch.items()}
        finally:
            stop.set()  # the caller stopped (end, break, error, Ctrl-C): the thread ends after its batch
            thread.join()

    def _produce(self, batches, stop):
        """Put each batch (then None), or the exception that ended loading, until `stop` is set."""
        try:
            for indices in self.batch_sampler:
                if not _put(batches, collate([self.dataset[i] for i in indices]), stop):
                    return
            _put(batches, None, stop)
        except BaseException as e:  # raised again in the caller's thread, which would wait forever otherwise
            _put(batches, e, stop)


def _put(batches, item, stop):
    """Put `item` into the bounded queue unless `stop` is set first; True when it was put."""
    while not stop.is_set():
        try:
            batches.put(item, timeout=0.05)
            return True
        except queue.Full:
            pass
    return False


class _ReturnUserErrors:
    """`dataset` in a worker process: a sample whose loading raises a UserError comes back as an error batch
    (Paddle would re-raise the error in its reader thread, where it only kills the batch queue: the caller
    would see `SystemError: Blocking queue is killed`)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        try:
            return self.dataset[key]
        except UserError as e:
            return _error_batch(e)


def _error_batch(error):
    """The batch standing for `error`: `{USER_ERROR_KEY: its message as a uint8 array}` (Paddle's batch
    queue needs an array in every batch; a batch without one ends the epoch early without a word)."""
    return {USER_ERROR_KEY: np.frombuffer(str(error).encode("utf-8"), np.uint8)}


def _collate_or_user_error(samples):
    """`collate` in a worker process; the error batch of the first sample that failed to load, or of the
    UserError collating raises, instead."""
    failed = [s for s in samples if USER_ERROR_KEY in s]
    if failed:
        return failed[0]
    try:
        return collate(samples)
    except UserError as e:
        return _error_batch(e)


class WorkerLoader:
    """Paddle's multi-process DataLoader; a UserError met in a worker is raised here, in the caller's thread,
    after the workers are shut down (the batches before it are yielded, as without workers)."""

    def __init__(self, dataset, batch_sampler, num_workers):
        self.num_workers = num_workers
        self.loader = paddle.io.DataLoader(_ReturnUserErrors(dataset), batch_sampler=batch_sampler,
                                           collate_fn=_collate_or_user_error, num_workers=num_workers,
                                           return_list=True)

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        batches = iter(self.loader)
        try:
            for batch in batches:
                if USER_ERROR_KEY in batch:
                    raise UserError(batch[USER_ERROR_KEY].numpy().tobytes().decode("utf-8"))
                yield batch
        finally:
            batches._try_shutdown_all()  # as Paddle does at the end of an epoch: stop and join the workers


def build_loader(dataset, batch_sampler, num_workers):
    """Batches over `batch_sampler`: from a background thread (num_workers 0) or from worker processes."""
    if check_int(None, "num_workers", num_workers, 0, error=UserError) == 0:
        return ThreadLoader(dataset, batch_sampler)
    return WorkerLoader(dataset, batch_sampler, num_workers)


class ShardBatchSampler(paddle.io.Sampler):
    """Batches of one index, in order, this rank's share only (evaluation/prediction)."""

    def __init__(self, num_samples, rank=0, world_size=1):
        self.indices = list(range(rank, num_samples, world_size))

    def __len__(self):
        return len(self.indices)

    def __iter__(self):
        return iter([i] for i in self.indices)
