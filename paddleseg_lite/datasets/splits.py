"""Assign samples to splits (train/val/test, or k folds): seeded, stratified, keeping groups together.

`tools/split_dataset.py` writes the result as split lists (docs/DESIGN.md, "Datasets"). Written by hand
rather than with scikit-learn (not a dependency): its StratifiedGroupKFold does both at once, but the
rule here is a dozen lines. The samples are cut into units (one sample, or all samples sharing a
keep-together group such as a patient id); the units are shuffled by `seed`, larger units first, and
each goes to the bin whose target share of the unit's stratum is least filled (ties: the bin with the
fewest samples overall, then the lowest index). A bin thus gets every stratum in proportion (within one
sample, or one unit), and the same inputs and seed give the same assignment.
"""
import collections

import numpy as np


def assign_bins(num_samples, weights, seed=0, strata=None, units=None):
    """The bin of each sample.

    Args:
        num_samples (int): N.
        weights (list[float]): target share of each bin (k folds: k times 1/k).
        seed (int): seeds the shuffle.
        strata (list | None): N stratum labels (each bin gets each stratum in proportion); None: one stratum.
        units (list | None): N keep-together labels (samples sharing one land in the same bin); None: each
            sample alone. A unit's stratum is the most common one of its samples.

    Returns:
        list[int]: N bin indices.
    """
    strata = list(strata) if strata is not None else [0] * num_samples
    units = list(units) if units is not None else list(range(num_samples))
    members = collections.defaultdict(list)
    for index, unit in enumerate(units):
        members[unit].append(index)
    order = list(members)
    order = [order[i] for i in np.random.default_rng(seed).permutation(len(order))]
    order.sort(key=lambda unit: -len(members[unit]))  # stable: shuffled within a size
    stratum_of = {u: collections.Counter(strata[i] for i in members[u]).most_common(1)[0][0] for u in order}
    stratum_size = collections.Counter(stratum_of[u] for u in order for _ in members[u])
    weights = np.asarray(weights, np.float64) / np.sum(weights)
    filled = collections.defaultdict(lambda: np.zeros(len(weights)))
    total = np.zeros(len(weights))
    result = [0] * num_samples
    for unit in order:
        stratum = stratum_of[unit]
        room = weights * stratum_size[stratum] - filled[stratum]
        best = min(range(len(weights)), key=lambda b: (-room[b], total[b], b))
        filled[stratum][best] += len(members[unit])
        total[best] += len(members[unit])
        for index in members[unit]:
            result[index] = best
    return result
