"""Photos no model of the zoo trains on: held-out sets for the restorers and the GNCA priors.

* :data:`HELD_OUT_COLOUR_PHOTOS` (:func:`held_out_photos`), the restorers' set: 13 colour
  photographs -- landscapes, a stream, a sunset, dogs, a portrait, a temple, a flower, food,
  objects, an interior, dandelions and scikit-image's ``stereo_motorcycle`` (left view).  All
  but the motorcycle ship in ``held_out_photos/`` (longer side 512 px; source package, author and
  licence of each in ``held_out_photos/photos.json`` and ``ATTRIBUTION.md``: CC-BY-4.0, CC0-1.0,
  CC-BY-2.0 or public domain), so they work offline with no corpus.
* :data:`HELD_OUT_PHOTOS` (:func:`held_out_patches`), the GNCA priors' set, which their shipped
  cards were measured on: ``stereo_motorcycle`` and grayscale scikit-image photos and textures,
  replicated to three channels.

The restorers train on the colour scikit-image photos of ``EMBEDDED_PHOTOS`` (tiled and split by
photo, see :mod:`nca_zoo.data.restoration`) or on the corpus of :mod:`nca_zoo.data.corpus`,
whose fetch drops these photos by hash and by look; no model has seen a pixel of them, so metrics
on them measure restoration, not memory.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from .images import ImageError, load_rgb_uint8, skimage_photo

#: the folder of the shipped held-out colour photos (``NAME.jpg`` + ``photos.json``)
HELD_OUT_DIR = Path(__file__).resolve().parent / "held_out_photos"
#: held-out photos of the GNCA priors (scikit-image names); grayscale ones replicated to RGB
HELD_OUT_PHOTOS = ("stereo_motorcycle", "camera", "coins", "moon", "brick", "grass")
#: held-out colour photos of the restorers: scikit-image's motorcycle + ``held_out_photos/``
HELD_OUT_COLOUR_PHOTOS = ("stereo_motorcycle", "aitzgorri", "friends", "life", "picos_de_europa",
                          "sunset", "fig", "brushes", "wine", "seeding", "china", "flower",
                          "grace_hopper")


def held_out_sources() -> list[dict]:
    """Where each shipped held-out photo comes from: ``photos.json`` (package, author, licence)."""
    return json.loads((HELD_OUT_DIR / "photos.json").read_text())


def held_out_photo(name: str) -> np.ndarray:
    """The held-out photo ``name`` (of either set) as ``uint8 (H, W, 3)``."""
    if name not in HELD_OUT_PHOTOS + HELD_OUT_COLOUR_PHOTOS:
        raise ImageError(f"{name!r} is not a held-out photo; choose from "
                         f"{tuple(dict.fromkeys(HELD_OUT_COLOUR_PHOTOS + HELD_OUT_PHOTOS))}")
    path = HELD_OUT_DIR / f"{name}.jpg"
    return load_rgb_uint8(path) if path.is_file() else skimage_photo(name)


def held_out_photos(names: Sequence[str] = HELD_OUT_COLOUR_PHOTOS) -> dict[str, np.ndarray]:
    """The held-out photos, by name: the restorers' colour set unless ``names`` is given."""
    return {name: held_out_photo(name) for name in names}


def held_out_fingerprints() -> tuple[set, list]:
    """``(SHA-256 of the original files, look-alike thumbnails)`` of the held-out colour photos.

    The corpus fetch drops a photo matching either (:func:`nca_zoo.data.corpus.thumbnail`).
    """
    from .corpus import thumbnail

    hashes = {p["sha256_original"] for p in held_out_sources()}
    return hashes, [thumbnail(a) for a in held_out_photos().values()]


def held_out_patches(n: int, patch: int = 40, size: int = 120, seed: int = 0):
    """``n`` held-out ``(3, patch, patch)`` patches in [0, 1]: test patches for GNCA priors.

    Every photo of :data:`HELD_OUT_PHOTOS` is resized (centre crop) to ``size`` x ``size`` like
    the quickstart's astronaut and cut into its patch grid; patches are taken round-robin over the
    photos, each photo's in a seeded random order, so small ``n`` still spans different photos.
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
