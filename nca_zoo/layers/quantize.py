"""One byte per parameter (GNCA §4.2: "a quantisation of one byte per parameter").

Symmetric linear int8 quantisation, ``q = round(w / s)`` with ``s = max|w| / 127`` over a group
of weights, stored as float16 (the scale is rounded to float16 first, so encoder and decoder
agree exactly).  Two groupings, per model of a bank (leading dimension):

* ``"column"`` (the default, ``.nca`` version 3): one scale per input column of a matrix
  ``(models, out, in)`` -- per input feature of ``w1``, per hidden unit of ``w2`` -- and one per
  vector (``b1``).  A GNCA grows its image over ~50 recurrent steps, so small weight errors
  compound: on 8 held-out 40x40 patches fitted 1000 iterations from each shipped prior
  (``benchmarks/gnca_quantisation.py``) the 8-bit round trip costs 0.8 / 1.1 / 2.6 dB
  (small / medium / large) with one scale per tensor and 0.2 / 0.4 / 0.5 dB with one per
  column (on the quickstart's astronaut, GNCA-medium: per output row sits in between), for
  ``2 (3 n_c + h_s + 1)`` bytes of scales per patch instead of 6; files grow ~21 %.
* ``"tensor"``: one scale per tensor (``.nca`` versions 1 and 2).

Every metric the library reports is measured after dequantisation.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

QMAX = 127
Grouping = Literal["column", "tensor"]
GROUPINGS = ("column", "tensor")


def quantize(weight: Tensor, per: Grouping = "column") -> tuple[Tensor, Tensor]:
    """``(models, ...)`` float -> (int8 codes of the same shape, float16 scales).

    Scales: ``(models,)`` for ``per="tensor"`` and for 2-d weights; ``(models, in)`` for a
    ``(models, out, in)`` weight with ``per="column"``.
    """
    if per not in GROUPINGS:
        raise ValueError(f"per must be one of {', '.join(GROUPINGS)}, got {per!r}")
    w = weight.detach().float()
    if per == "column" and w.dim() == 3:
        scale = (w.abs().amax(dim=1) / QMAX).clamp_min(1e-8).half()  # (models, in)
    else:
        scale = (w.flatten(1).abs().amax(dim=1) / QMAX).clamp_min(1e-8).half()  # (models,)
    codes = torch.round(w / _broadcast(scale.float(), w.dim())).clamp(-QMAX, QMAX)
    return codes.to(torch.int8), scale


def dequantize(codes: Tensor, scale: Tensor) -> Tensor:
    """Inverse of :func:`quantize` (up to rounding), for either grouping of ``scale``."""
    return codes.float() * _broadcast(scale.float(), codes.dim())


def _broadcast(scale: Tensor, dims: int) -> Tensor:
    """``(models,)`` -> ``(models, 1, ...)``; ``(models, in)`` -> ``(models, 1, in)``."""
    if scale.dim() == 1:
        return scale.reshape((-1,) + (1,) * (dims - 1))
    return scale.unsqueeze(1)


def fake_quantize(weight: Tensor, per: Grouping = "column") -> Tensor:
    """Quantise-dequantise in the forward pass, identity gradient (straight-through estimator)."""
    return weight + (dequantize(*quantize(weight, per)) - weight).detach()
