"""Train / validation / test splits by index."""
from __future__ import annotations

from typing import Sequence

import numpy as np


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
