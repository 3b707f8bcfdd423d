"""Bounded-memory noise prediction for large images (Diff-NCA paper §4.9).

A Diff-NCA prediction for a cell depends only on the cells within ``receptive_radius`` (one per NCA
step) when the rule is local (``norm="cell"``, no position embedding).  :class:`TiledDenoiser`
therefore predicts the noise tile by tile, each tile padded by a halo of ``receptive_radius``
cells, and keeps only the tile's core: the result equals one rollout over the whole image
(exactly, with ``update_rate=1``; with stochastic updates, in distribution), while the NCA state
(``c`` channels) only ever exists for one tile.  What grows with the image is the 3-channel x_t and
ε, i.e. a few bytes per pixel.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn


class TiledDenoiser(nn.Module):
    """Wrap a local denoiser so that it runs tile by tile.

    Args:
        model: a denoiser with ``receptive_radius`` and ``is_local`` (e.g. :class:`DiffNCA`).
        tile: core tile side in pixels.
        halo: context cells on each side (default: ``model.receptive_radius``).
        require_local: refuse models whose prediction is not local (GroupNorm over the image,
            position embedding, Fourier stage); set False to tile them approximately.
    """

    def __init__(self, model: nn.Module, tile: int = 128, halo: Optional[int] = None,
                 require_local: bool = True) -> None:
        super().__init__()
        if tile < 1:
            raise ValueError(f"tile must be >= 1, got {tile}")
        if require_local and not getattr(model, "is_local", False):
            raise ValueError(f"{type(model).__name__} is not local (needs norm='cell' and no "
                             f"position embedding); tiled output would differ from a full rollout")
        self.model, self.tile = model, int(tile)
        self.halo = int(model.receptive_radius if halo is None else halo)

    def forward(self, x: Tensor, t_frac: Tensor, region: Optional[Tensor] = None) -> Tensor:
        """Noise predicted for ``x`` ``(B, C, H, W)`` at times ``t_frac`` ``(B,)``, tile by tile."""
        h, w = x.shape[-2:]
        out = torch.empty_like(x)
        s, p = self.tile, self.halo
        for r0 in range(0, h, s):
            for c0 in range(0, w, s):
                r1, c1 = min(r0 + s, h), min(c0 + s, w)
                er0, ec0, er1, ec1 = max(r0 - p, 0), max(c0 - p, 0), min(r1 + p, h), min(c1 + p, w)
                sub = (..., slice(er0, er1), slice(ec0, ec1))
                kw = {} if region is None else {"region": region[sub]}
                eps = self.model(x[sub], t_frac, **kw)
                out[..., r0:r1, c0:c1] = eps[..., r0 - er0:r1 - er0, c0 - ec0:c1 - ec0]
        return out
