"""Cutting images into square patches, and stitching a padded grid of patches back.

One cutter serves the whole zoo: GNCA's patch grid (GNCA Fig. 2: padded so every pixel belongs to
a patch, :func:`stitch` inverts it), LNCA's tile-shrink-clean tiles and Diff-NCA's training
patches (patches that do not fit are dropped, optionally with a stride).
"""
from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def grid_shape(height: int, width: int, patch: int) -> tuple[int, int]:
    """Number of patch rows and columns covering ``height`` x ``width`` (the last ones padded)."""
    return math.ceil(height / patch), math.ceil(width / patch)


def cut_patches(image: Union[Tensor, np.ndarray], size: int, stride: Optional[int] = None,
                pad: bool = False) -> Union[Tensor, np.ndarray]:
    """Cut an image into square patches: ``(C, H, W)`` tensor -> ``(N, C, size, size)``, row-major.

    A ``uint8 (H, W, C)`` numpy image (as loaded from a file) gives ``(N, size, size, C)`` numpy
    patches.

    ``pad=False``: every ``size`` x ``size`` window at ``stride`` (default ``size``) that fits
    inside the image; the border that does not fit is dropped (N may be 0).
    ``pad=True``: non-overlapping patches covering the whole image, the last row and column
    edge-padded (float images); :func:`stitch` is the inverse.
    """
    if isinstance(image, np.ndarray):
        hwc = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
        return cut_patches(hwc, size, stride, pad).permute(0, 2, 3, 1).numpy()
    stride = int(stride or size)
    if size < 1 or stride < 1:
        raise ValueError(f"patch size and stride must be >= 1, got {size}, {stride}")
    c, h, w = image.shape
    if pad:
        if stride != size:
            raise ValueError("pad=True cuts non-overlapping patches (stride == size)")
        rows, cols = grid_shape(h, w, size)
        image = F.pad(image[None], (0, cols * size - w, 0, rows * size - h), mode="replicate")[0]
    elif h < size or w < size:
        return image.new_zeros((0, c, size, size))
    windows = image.unfold(1, size, stride).unfold(2, size, stride)   # (C, rows, cols, s, s)
    return windows.permute(1, 2, 0, 3, 4).reshape(-1, c, size, size)


def stitch(patches: Tensor, height: int, width: int) -> Tensor:
    """Inverse of ``cut_patches(..., pad=True)``: ``(rows * cols, C, p, p)`` -> ``(C, H, W)``."""
    n, c, p, _ = patches.shape
    rows, cols = grid_shape(height, width, p)
    if n != rows * cols:
        raise ValueError(f"{n} patches do not tile a {height}x{width} image with patch {p}")
    full = (patches.reshape(rows, cols, c, p, p).permute(2, 0, 3, 1, 4)
            .reshape(c, rows * p, cols * p))
    return full[:, :height, :width]
