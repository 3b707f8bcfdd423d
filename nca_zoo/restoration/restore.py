"""Restore a whole photo with a restoration model: padding to the latent's multiple, tiling.

A model whose cells encode absolute positions (ViTCA's raster-index encoding) only knows the
positions of its training size, so larger images are restored as overlapping tiles of that size.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.lnca import LATENT_DOWNSCALE


def _pad(image: torch.Tensor, multiple: int) -> torch.Tensor:
    _, h, w = image.shape
    return F.pad(image[None], (0, (-w) % multiple, 0, (-h) % multiple), mode="replicate")[0]


def is_size_dependent(model: torch.nn.Module) -> bool:
    """True when a cell encodes absolute positions (ViTCA's raster-index encoding).

    Such a model only sees positions of its training size, so larger images are restored tile by
    tile.
    """
    return any(getattr(m, "pos_encoding", "none") != "none" for m in model.modules())


def default_tile(model: torch.nn.Module) -> int | None:
    """The training image size (from the card) for size-dependent models, else None (whole)."""
    card = getattr(model, "card", {}) or {}
    return card.get("metrics", {}).get("image_size") if is_size_dependent(model) else None


@torch.no_grad()
def restore(model: torch.nn.Module, image: torch.Tensor, multiple: int = LATENT_DOWNSCALE,
            tile: int | None = None) -> torch.Tensor:
    """Restore ``(3, H, W)`` in [0, 1]; edges are padded to a multiple of 4 (the latent's /4).

    ``tile``: restore overlapping ``tile`` x ``tile`` windows (stride tile / 2) and average them.
    """
    _, h, w = image.shape
    if tile is None or (h <= tile and w <= tile):
        return model(_pad(image, multiple)[None])[0, :, :h, :w].clamp(0, 1)
    if tile < 8 or tile % multiple:
        raise ValueError(f"tile must be a multiple of {multiple} and at least 8, got {tile}")
    x = F.pad(image[None], (0, max(0, tile - w), 0, max(0, tile - h)), mode="replicate")[0]
    H, W = x.shape[-2:]
    step = tile // 2
    tops = sorted({*range(0, H - tile + 1, step), H - tile})
    lefts = sorted({*range(0, W - tile + 1, step), W - tile})
    out, weight = torch.zeros_like(x), torch.zeros_like(x[:1])
    for top in tops:
        windows = torch.stack([x[:, top:top + tile, left:left + tile] for left in lefts])
        restored = model(windows).clamp(0, 1)
        for left, r in zip(lefts, restored):
            out[:, top:top + tile, left:left + tile] += r
            weight[:, top:top + tile, left:left + tile] += 1
    return (out / weight)[:, :h, :w]
