"""Image tensors: the zoo's conventions in one place.

Images are ``float (B, 3, H, W)`` in [0, 1] (diffusion works in [-1, 1] internally); files and
codecs use ``uint8 (H, W, 3)``.  :func:`to_tensor` / :func:`to_uint8` convert between the two and
:func:`check_images` gives the one-line error every model raises on a wrong input.
"""
from __future__ import annotations

from typing import Union

import numpy as np
import torch
from torch import Tensor

#: Colour channels of every image the zoo reads or writes.
RGB_CHANNELS = 3


def to_tensor(image: Union[np.ndarray, Tensor]) -> Tensor:
    """``uint8 (H, W, 3)`` (numpy or torch) -> float ``(3, H, W)`` in [0, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(image)) if isinstance(image, np.ndarray) else image
    return t.permute(2, 0, 1).float().div(255.0)


def to_uint8(image: Tensor) -> np.ndarray:
    """Float ``(3, H, W)`` in [0, 1] -> ``uint8 (H, W, 3)`` (rounded, clamped)."""
    return image.detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


def check_images(x: Tensor, multiple: int = 1, min_size: int = 1, name: str = "input") -> None:
    """One-line ValueError unless ``x`` is a float RGB batch ``(B, 3, H, W)``.

    ``multiple``: H and W must be multiples of it (the LNCA latent is H/4); ``min_size``: the
    smallest side allowed (reflect padding needs 2).
    """
    if not torch.is_tensor(x) or x.dim() != 4 or x.shape[1] != RGB_CHANNELS:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"{name} must be an RGB batch (B, 3, H, W), got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be float, got dtype {x.dtype}")
    h, w = x.shape[-2:]
    if min(h, w) < min_size:
        raise ValueError(f"{name} must be at least {min_size}x{min_size}, got {h}x{w}")
    if h % multiple or w % multiple:
        raise ValueError(f"{name} height and width must be multiples of {multiple}, got {h}x{w}")
