"""One byte per parameter (GNCA §4.2: "a quantisation of one byte per parameter").

Symmetric linear int8 quantisation, ``q = round(w / s)``, ``s >= max|w| / N`` over a group of
weights, ``N = code_max`` (127 by default).  Two groupings, per model of a bank (leading
dimension):

* ``"column"`` (the default, ``.nca`` versions 3 and 4): one scale per input column of a matrix
  ``(models, out, in)`` -- per input feature of ``w1``, per hidden unit of ``w2`` -- and one per
  vector (``b1``).  A GNCA grows its image over ~50 recurrent steps, so small weight errors
  compound: on 8 held-out 40x40 patches fitted 1000 iterations from each shipped prior
  (``benchmarks/gnca/gnca_quantisation.py``, run of 2026-12-06) the 8-bit round trip costs 1.1 / 1.4
  / 2.3 dB (small / medium / large) with one scale per tensor and 0.2 / 0.3 / 0.6 dB with one
  per column (on the quickstart's astronaut, GNCA-medium: per output row sits in between).
* ``"tensor"``: one scale per tensor (``.nca`` versions 1 and 2).

And two ways to store a scale (``scales``):

* ``"log"`` (the default, ``.nca`` version 4): one byte, an exponent ``e`` on a grid of 1/16
  octave, ``s = 2^(e // 16 - 14) * M[e % 16]`` with ``M[j] = 2^(j / 16)`` in float32
  (:func:`log_scale_table`); ``e`` is the smallest code with ``s >= max|w| / N``, so no weight
  clips and the step is at most 4.4 % coarser than ``max|w| / N``.  Range: ``2^-14`` to
  ``3.8``, i.e. ``max|w|`` up to ``3.8 N`` (486 at N = 127).
* ``"float16"`` (versions 1 to 3): ``s = max|w| / N`` rounded to float16.

Either way the encoder and the decoder compute the same float32 scale exactly.  Per column, the
float16 scales are 7.5 % of a GNCA-medium file (8 fitted 40 px patches); as entropy-coded
exponents they cost 2.7 %, at the same PSNR (``benchmarks/gnca/gnca_quantisation.py``).

The code range ``N`` trades PSNR for bytes (versions 2 to 4 entropy-code the codes): on the
same fits, ``N = 63`` wrote 11-12 % smaller version 4 files but lost 0.5 / 1.5 / 1.25 dB.  On
GNCA's rate-distortion curve at 300 iterations (``benchmarks/gnca/gnca_patch_sweep.py``: 3.4 to 4 dB
per doubling of the rate; 2.3 to 2.8 dB at 100 iterations) 12 % of the rate is worth 0.4 to
0.7 dB, so at best GNCA-small breaks even, and the default stays 127, the paper's full byte per
parameter.  Quantisation-aware training (:func:`fake_quantize`) over the last quarter of those
fits (as ``GNCACompression(qat_from=0.75)`` does), one optimiser throughout, ended 1.0 to 1.1 dB
*below* plain training plus the round trip, so it is off by default.

Every metric the library reports is measured after dequantisation.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Literal

import torch
from torch import Tensor

QMAX = 127
#: the encoder's default code range: codes in ``[-code_max, code_max]`` (any value up to QMAX
#: fits the ``.nca`` formats; see :func:`quantize`)
DEFAULT_CODE_MAX = QMAX
Grouping = Literal["column", "tensor"]
GROUPINGS = ("column", "tensor")
ScaleFormat = Literal["log", "float16"]
SCALE_FORMATS = ("log", "float16")
#: ``"log"`` scales: ``s = 2^(e // 16 - LOG_SCALE_BIAS) * M[e % 16]``, ``e`` in 0..255
LOG_SCALE_STEPS, LOG_SCALE_BIAS = 16, 14


@lru_cache(maxsize=1)
def log_scale_table() -> Tensor:
    """The 256 float32 scales a ``"log"`` exponent ``e`` stands for, increasing."""
    mantissa = torch.tensor([2.0 ** (j / LOG_SCALE_STEPS) for j in range(LOG_SCALE_STEPS)],
                            dtype=torch.float32)
    octave = torch.tensor([2.0 ** (k - LOG_SCALE_BIAS) for k in range(256 // LOG_SCALE_STEPS)],
                          dtype=torch.float32)
    return (octave[:, None] * mantissa[None, :]).flatten()  # exact: times a power of two


def log_scale_exponents(scale: Tensor, strict: bool = True,
                        code_max: int = DEFAULT_CODE_MAX) -> Tensor:
    """uint8 ``e`` of float32 ``"log"`` scales (inverse of :func:`log_scale_table`).

    Also: the exponent of the smallest grid scale ``>= scale`` for any positive scale.  A
    scale beyond the grid is a one-line ValueError (``strict``; a host sync; ``code_max``: the
    code range the scales are for, to name the weight magnitude) or, with ``strict=False``, the
    largest grid scale (the weights beyond it clip).
    """
    table = log_scale_table().to(scale.device)
    e = torch.searchsorted(table, scale.float().contiguous())
    if strict and bool((e > 255).any()):
        raise ValueError(f"a weight of magnitude {float(scale.max()) * code_max:.4g} is beyond "
                         f"the log scales' range ({float(table[-1]) * code_max:.4g} at code range "
                         f"{code_max}); use float16 scales (.nca --format-version 3)")
    return e.clamp_max(255).to(torch.uint8)


def check_code_max(code_max: int, name: str = "code_max") -> int:
    """``code_max`` if it is an integer in ``1 .. QMAX``, else a one-line ValueError."""
    if isinstance(code_max, bool) or not isinstance(code_max, int) or \
            not 1 <= code_max <= QMAX:
        raise ValueError(f"{name} must be an integer from 1 to {QMAX}, got {code_max!r}")
    return code_max


def quantize(weight: Tensor, per: Grouping = "column", scales: ScaleFormat = "log",
             strict: bool = True, code_max: int = DEFAULT_CODE_MAX) -> tuple[Tensor, Tensor]:
    """``(models, ...)`` float -> (int8 codes of the same shape, scales).

    Scales: ``(models,)`` for ``per="tensor"`` and for 2-d weights; ``(models, in)`` for a
    ``(models, out, in)`` weight with ``per="column"``; float32 on the log grid
    (``scales="log"``) or float16 (``"float16"``).  ``strict``: weights beyond the log grid's
    range are a ValueError (else they clip; see :func:`log_scale_exponents`).  ``code_max``: the
    codes' range, ``s >= max|w| / code_max``.  Below 127 the step is coarser but the codes take
    fewer distinct values, so the entropy-coded file shrinks: a rate-distortion knob of the
    encoder (``benchmarks/gnca/gnca_quantisation.py``); the decoder only reads ``code * s``.
    """
    if per not in GROUPINGS:
        raise ValueError(f"per must be one of {', '.join(GROUPINGS)}, got {per!r}")
    if scales not in SCALE_FORMATS:
        raise ValueError(f"scales must be one of {', '.join(SCALE_FORMATS)}, got {scales!r}")
    check_code_max(code_max)
    w = weight.detach().float()
    if per == "column" and w.dim() == 3:
        step = w.abs().amax(dim=1) / code_max  # (models, in)
    else:
        step = w.flatten(1).abs().amax(dim=1) / code_max  # (models,)
    if scales == "log":
        scale = log_scale_table().to(w.device)[log_scale_exponents(step, strict, code_max).long()]
    else:
        scale = step.clamp_min(1e-8).half()
    codes = torch.round(w / _broadcast(scale.float(), w.dim())).clamp(-code_max, code_max)
    return codes.to(torch.int8), scale


def dequantize(codes: Tensor, scale: Tensor) -> Tensor:
    """Inverse of :func:`quantize` (up to rounding), for either grouping of ``scale``."""
    return codes.float() * _broadcast(scale.float(), codes.dim())


def _broadcast(scale: Tensor, dims: int) -> Tensor:
    """``(models,)`` -> ``(models, 1, ...)``; ``(models, in)`` -> ``(models, 1, in)``."""
    if scale.dim() == 1:
        return scale.reshape((-1,) + (1,) * (dims - 1))
    return scale.unsqueeze(1)


def fake_quantize(weight: Tensor, per: Grouping = "column", scales: ScaleFormat = "log",
                  code_max: int = DEFAULT_CODE_MAX) -> Tensor:
    """Quantise-dequantise in the forward pass, identity gradient (straight-through estimator).

    No host sync (for training on an accelerator): weights beyond the log grid clip here;
    writing the file (:func:`quantize`) refuses them.
    """
    q = dequantize(*quantize(weight, per, scales, strict=False, code_max=code_max))
    return weight + (q - weight).detach()
