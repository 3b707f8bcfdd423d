"""Photos no restoration model of the zoo trains on: the held-out set every restorer is measured on.

The training photos are the colour scikit-image photos of ``EMBEDDED_PHOTOS`` (tiled, and split
by photo, see :mod:`nca_zoo.data.restoration`).  These are other photos that ship with
scikit-image and work offline: one colour photo (the left view of ``stereo_motorcycle``) and
grayscale photos and textures, replicated to three channels.  No model, shipped or trained with
the configs, has seen a pixel of them, so metrics on them measure restoration, not memory.
"""
from __future__ import annotations

import numpy as np

from .images import ImageError, skimage_photo

#: held-out photos (scikit-image names); grayscale ones are replicated to RGB
HELD_OUT_PHOTOS = ("stereo_motorcycle", "camera", "coins", "moon", "brick", "grass")


def held_out_photo(name: str) -> np.ndarray:
    """The held-out photo ``name`` as ``uint8 (H, W, 3)``."""
    if name not in HELD_OUT_PHOTOS:
        raise ImageError(f"{name!r} is not a held-out photo; choose from {HELD_OUT_PHOTOS}")
    return skimage_photo(name)


def held_out_photos() -> dict[str, np.ndarray]:
    """Every held-out photo, by name."""
    return {name: held_out_photo(name) for name in HELD_OUT_PHOTOS}


def held_out_patches(n: int, patch: int = 40, size: int = 120, seed: int = 0):
    """``n`` held-out ``(3, patch, patch)`` patches in [0, 1]: test patches for GNCA priors.

    Every held-out photo is resized (centre crop) to ``size`` x ``size`` like the quickstart's
    astronaut and cut into its patch grid; patches are taken round-robin over the photos, each
    photo's in a seeded random order, so small ``n`` still spans different photos.
    """
    import torch

    from ..layers import cut_patches, to_tensor
    from .images import resize_square

    if n < 1:
        raise ValueError(f"need at least one patch, got {n}")
    g = torch.Generator().manual_seed(seed)
    grids = []
    for name in HELD_OUT_PHOTOS:
        tiles = cut_patches(to_tensor(resize_square(held_out_photo(name), size)), patch, pad=True)
        grids.append(tiles[torch.randperm(len(tiles), generator=g)])
    order = [(k % len(grids), k // len(grids)) for k in range(sum(len(t) for t in grids))]
    order = [(i, j) for i, j in order if j < len(grids[i])]
    if n > len(order):
        raise ValueError(f"only {len(order)} held-out patches of {patch} px at {size} px")
    return torch.stack([grids[i][j] for i, j in order[:n]])
