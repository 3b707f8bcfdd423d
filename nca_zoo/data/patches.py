"""Cutting an image into patches and stitching it back (GNCA Fig. 2).

Sizes that are not a multiple of the patch size are padded (edge replication) and cropped back.
"""
from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor


def grid_shape(height: int, width: int, patch: int) -> tuple[int, int]:
    """Number of patch rows and columns covering ``height`` x ``width``."""
    return math.ceil(height / patch), math.ceil(width / patch)


def tile(image: Tensor, patch: int) -> Tensor:
    """``(3, H, W)`` -> ``(rows * cols, 3, patch, patch)``, row-major, edge-padded."""
    _, h, w = image.shape
    rows, cols = grid_shape(h, w, patch)
    padded = F.pad(image[None], (0, cols * patch - w, 0, rows * patch - h), mode="replicate")[0]
    c = padded.shape[0]
    return (padded.reshape(c, rows, patch, cols, patch).permute(1, 3, 0, 2, 4)
            .reshape(rows * cols, c, patch, patch))


def stitch(patches: Tensor, height: int, width: int) -> Tensor:
    """Inverse of :func:`tile`: ``(rows * cols, C, p, p)`` -> ``(C, height, width)``."""
    n, c, p, _ = patches.shape
    rows, cols = grid_shape(height, width, p)
    if n != rows * cols:
        raise ValueError(f"{n} patches do not tile a {height}x{width} image with patch {p}")
    full = patches.reshape(rows, cols, c, p, p).permute(2, 0, 3, 1, 4).reshape(c, rows * p, cols * p)
    return full[:, :height, :width]
