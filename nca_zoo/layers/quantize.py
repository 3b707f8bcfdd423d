"""One byte per parameter (GNCA §4.2: "a quantisation of one byte per parameter").

Symmetric linear int8 quantisation with one scale per tensor *per model*: ``q = round(w / s)``,
``s = max|w| / 127`` stored as float16 (the scale is rounded to float16 first, so encoder and
decoder agree exactly).  Every metric the library reports is measured after dequantisation.
"""
from __future__ import annotations

import torch
from torch import Tensor

QMAX = 127


def quantize(weight: Tensor) -> tuple[Tensor, Tensor]:
    """``(models, ...)`` float -> (int8 codes of the same shape, float16 scales ``(models,)``)."""
    flat = weight.detach().float().flatten(1)
    scale = (flat.abs().amax(dim=1) / QMAX).clamp_min(1e-8).half()
    codes = torch.round(flat / scale.float()[:, None]).clamp(-QMAX, QMAX).to(torch.int8)
    return codes.reshape(weight.shape), scale


def dequantize(codes: Tensor, scale: Tensor) -> Tensor:
    """Inverse of :func:`quantize` (up to rounding)."""
    shape = (-1,) + (1,) * (codes.dim() - 1)
    return codes.float() * scale.float().reshape(shape)


def fake_quantize(weight: Tensor) -> Tensor:
    """Quantise-dequantise in the forward pass, identity gradient (straight-through estimator)."""
    return weight + (dequantize(*quantize(weight)) - weight).detach()
