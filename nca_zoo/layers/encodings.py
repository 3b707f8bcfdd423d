"""Sinusoidal encodings: the one sin/cos encoder behind the three used in the zoo.

Every variant computes ``angle = value * frequency`` and returns ``sin`` and ``cos`` of it; they
differ only in the frequencies and in how the two halves are laid out:

* :func:`raster_position_encoding` -- ViT's handcrafted table over the flattened raster index
  (ViTCA, Tesfaldet et al. 2022): transformer frequencies, ``sin`` / ``cos`` interleaved.
* :func:`timestep_embedding` -- DDPM's timestep features (UNet baseline): transformer
  frequencies, ``[cos | sin]``.
* :func:`octave_encoding` -- NeRF-style features of scalar maps in [0, 1] (Diff-NCA embedding,
  Diff-NCA paper §3.2): frequencies ``pi 2^k``, per scalar ``[sin | cos]``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

LAYOUTS = ("sin_cos", "cos_sin", "interleaved")


def transformer_frequencies(dim: int, device=None, dtype=torch.float32) -> Tensor:
    """``10000^(-2i / dim)`` for ``i < ceil(dim / 2)`` (Vaswani et al. 2017)."""
    return torch.exp(torch.arange(0, dim, 2, device=device, dtype=dtype)
                     * (-math.log(10000.0) / dim))


def sincos(values: Tensor, freqs: Tensor, layout: str = "sin_cos",
           dim: int | None = None) -> Tensor:
    """Encode ``values (...)`` with ``freqs (F,)``: ``(..., 2F)`` (or ``(..., dim)`` if given).

    ``layout``: ``sin_cos`` = ``[sin f_0.. | cos f_0..]``, ``cos_sin`` = ``[cos | sin]``,
    ``interleaved`` = ``[sin f_0, cos f_0, sin f_1, ...]``.  ``dim`` truncates the result (odd
    sizes of the interleaved table drop the last cosine).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    angles = values[..., None] * freqs
    sin, cos = angles.sin(), angles.cos()
    if layout == "interleaved":
        out = torch.stack([sin, cos], -1).flatten(-2)
    else:
        out = torch.cat([sin, cos] if layout == "sin_cos" else [cos, sin], -1)
    return out if dim is None else out[..., :dim]


def raster_position_encoding(n: int, dim: int, device=None, dtype=torch.float32) -> Tensor:
    """ViT handcrafted position table ``(n, dim)`` over raster indices ``0..n-1`` (ViTCA)."""
    pos = torch.arange(n, device=device, dtype=dtype)
    return sincos(pos, transformer_frequencies(dim, device, dtype), "interleaved", dim)


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """DDPM timestep features ``(B, dim)``, ``[cos | sin]`` (flip_sin_to_cos, no shift)."""
    freqs = transformer_frequencies(dim, t.device)[: dim // 2]
    return sincos(t.float(), freqs, "cos_sin")


def octave_encoding(maps: Tensor, n_freqs: int) -> Tensor:
    """NeRF-style encoding of scalar maps ``(B, K, H, W)`` in [0, 1]: ``(B, 2 K n_freqs, H, W)``.

    Scalar ``v`` becomes ``[sin(pi 2^k v) for k < n_freqs] + [cos(...)]``; ``n_freqs=0`` passes
    the raw scalars through.
    """
    if n_freqs == 0:
        return maps
    freqs = math.pi * 2.0 ** torch.arange(n_freqs, device=maps.device, dtype=maps.dtype)
    enc = sincos(maps.movedim(1, -1), freqs)                     # (B, H, W, K, 2F)
    return enc.flatten(-2).movedim(-1, 1)
