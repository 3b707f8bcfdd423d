"""Train / validation / test splits of ``n`` items by index: the two schemes of the zoo.

Both shuffle once with a seed and return ``[train, val, test]`` covering every index exactly once.
They differ in the random generator and the cutting, and each is kept because models were trained
and measured on it:

* :func:`split_indices` -- numpy, three fractions (diffusion datasets);
* :func:`nested_split_indices` -- torch, ``test`` of all, then ``val`` of the rest, at least one
  item in each part (restoration: by photo, and release 0.1's split by tile).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def split_indices(n: int, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Shuffle ``range(n)`` with ``seed``, cut it into train / val / test by ``fractions``.

    ``fractions`` are three non-negative numbers (normalised to sum 1); part sizes are the rounded
    cumulative fractions, so the parts always cover every index exactly once.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ValueError(f"split must be three non-negative fractions, got {list(fractions)}")
    perm = np.random.default_rng(seed).permutation(n)
    cuts = np.cumsum(np.asarray(fractions, dtype=float) / sum(fractions))[:2] * n
    a, b = (int(round(c)) for c in cuts)
    return [perm[:a], perm[a:b], perm[b:]]


def nested_split_indices(n: int, seed: int, test: float = 0.2,
                         val: float = 0.2) -> list[list[int]]:
    """Shuffle ``range(n)`` with ``seed``; ``test`` of it, then ``val`` of the rest, the rest train.

    The defaults give 80/20 (train+val / test) and 80/20 (train / val), i.e. 64/16/20 %.  Each part
    holds at least one index, so ``n`` must be at least 3 (one-line ValueError otherwise).
    Returns ``[train, val, test]`` lists.
    """
    if n < 3:
        raise ValueError(f"only {n} items: a train / val / test split needs at least 3")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_test = min(max(1, int(round(n * test))), n - 2)
    n_val = min(max(1, int(round((n - n_test) * val))), n - 1 - n_test)
    return [perm[n_test + n_val :], perm[n_test : n_test + n_val], perm[:n_test]]
