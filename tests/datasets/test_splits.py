"""datasets/splits.assign_bins: every sample in one bin, seeded, strata in proportion, groups kept together."""
import collections

from paddleseg_lite.datasets.splits import assign_bins


def test_k_folds_cover_every_sample_once_with_sizes_within_one():
    bins = assign_bins(13, [1, 1, 1], seed=0)
    assert len(bins) == 13 and set(bins) == {0, 1, 2}
    assert sorted(collections.Counter(bins).values()) == [4, 4, 5]


def test_ratios_give_their_share():
    bins = assign_bins(20, [0.65, 0.25, 0.1], seed=3)
    assert collections.Counter(bins) == {0: 13, 1: 5, 2: 2}


def test_same_seed_same_bins_other_seed_other_bins():
    assert assign_bins(20, [1] * 4, seed=7) == assign_bins(20, [1] * 4, seed=7)
    assert assign_bins(20, [1] * 4, seed=7) != assign_bins(20, [1] * 4, seed=8)


def test_each_fold_gets_each_stratum_in_proportion():
    strata = ["a"] * 9 + ["b"] * 6  # 3 folds: 3 a + 2 b each
    for seed in range(5):
        bins = assign_bins(15, [1, 1, 1], seed=seed, strata=strata)
        per_fold = collections.Counter(zip(bins, strata))
        assert all(per_fold[(f, "a")] == 3 and per_fold[(f, "b")] == 2 for f in range(3)), per_fold


def test_groups_stay_together_and_folds_stay_balanced():
    patients = ["p{}".format(i // 2) for i in range(12)]  # 6 patients, 2 images each
    for seed in range(5):
        bins = assign_bins(12, [1, 1, 1], seed=seed, units=patients)
        fold_of = {}
        for patient, fold in zip(patients, bins):
            assert fold_of.setdefault(patient, fold) == fold
        assert sorted(collections.Counter(bins).values()) == [4, 4, 4]
