"""Entropy model and exact coding of the latent codec's integer grids (``.nca`` version 5).

Two halves with one model, a zero-mean Laplace per latent level:

* **training** (:func:`laplace_bits`): the rate of noisy or rounded latents under a continuous
  Laplace of learned scale, integrated over each unit bin (Ballé et al. 2018 without the
  hyperprior; Cool-chic's factorised case), differentiable in the latents and the scale;
* **the file** (:func:`encode_grids` / :func:`decode_grids`): each level is coded with a
  *discrete* Laplace ``P(k) ~ r^|k|`` on ``k in [-K, K]``, stored as the two integers ``K``
  (the largest magnitude in the grid) and ``r`` in 16-bit fixed point.  The frequency table is
  built from those integers with integer arithmetic only (:func:`frequencies`), so the encoder
  and every decoder, on any machine, feed the same table to the range coder: the ANS coder of
  the ``constriction`` library.  No float network sits in the probability path.

The encoder fits ``r`` to the grid (maximum likelihood of the two-sided geometric law, then the
best of the neighbouring codes by exact table cost): :func:`fit_ratio`.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

#: the discrete Laplace ratio is ``r = code / 2^RATIO_BITS``, code in ``1 .. 2^RATIO_BITS - 1``
RATIO_BITS = 16
#: the table's weight of symbol 0; the others are ``floor(previous * r)``, at least 1
TABLE_ONE = 1 << 30
#: largest latent magnitude a grid may hold (the table has ``2 K + 1`` entries)
MAX_MAGNITUDE = 4095
_LOG2 = math.log(2.0)


def laplace_bits(latent: Tensor, log_scale: Tensor) -> Tensor:
    """Bits of ``latent`` (any shape) under a zero-mean Laplace of scale ``exp(log_scale)``.

    ``-log2(F(y + 1/2) - F(y - 1/2))`` summed, with the CDF ``F`` of the Laplace; computed on
    ``|y|`` in a form that stays accurate in the tails, and floored at 1e-9 probability.
    """
    scale = log_scale.exp()
    a = latent.abs()
    far = torch.exp(-(a + 0.5) / scale)  # 2 P(X > |y| + 1/2)
    near = torch.exp(-(a - 0.5).abs() / scale)  # 2 P(X > |y| - 1/2), or 2 P(X < |y| - 1/2)
    # |y| >= 1/2: the bin lies on one side of 0; |y| < 1/2: it holds 0
    p = torch.where(a >= 0.5, 0.5 * (near - far), 1.0 - 0.5 * (near + far))
    return -(p.clamp_min(1e-9).log() / _LOG2).sum()


def frequencies(ratio_code: int, magnitude: int) -> np.ndarray:
    """Integer weights of ``k = -K .. K`` under ``r^|k|``, ``r = ratio_code / 2^16``.

    Integer arithmetic only: every machine builds the same table from the same two integers.
    """
    if not 1 <= ratio_code < (1 << RATIO_BITS) or not 0 <= magnitude <= MAX_MAGNITUDE:
        raise ValueError(f"ratio code {ratio_code} or magnitude {magnitude} out of range")
    half = [TABLE_ONE]
    for _ in range(magnitude):
        half.append(max(1, (half[-1] * ratio_code) >> RATIO_BITS))
    return np.array(half[:0:-1] + half, dtype=np.int64)


def _probabilities(ratio_code: int, magnitude: int) -> np.ndarray:
    """The table as float64 probabilities: integer / integer sum, exactly rounded (IEEE)."""
    weights = frequencies(ratio_code, magnitude)
    return weights / float(int(weights.sum()))  # sum < 2^53: exact in float64


def table_bits(symbols: np.ndarray, ratio_code: int, magnitude: int) -> float:
    """Ideal code length in bits of ``symbols`` (integers in [-K, K]) under the table."""
    p = _probabilities(ratio_code, magnitude)
    counts = np.bincount((symbols.ravel() + magnitude).astype(np.int64), minlength=p.size)
    return float(-(counts * np.log2(p)).sum())


def fit_ratio(symbols: np.ndarray) -> int:
    """The ratio code that codes ``symbols`` shortest (ML estimate, then its neighbours)."""
    a = np.abs(symbols.astype(np.int64))
    magnitude = int(a.max(initial=0))
    m = float(a.mean()) if a.size else 0.0
    r = (math.sqrt(1.0 + m * m) - 1.0) / m if m > 0 else 0.0  # ML of P(k) ~ r^|k|
    top = (1 << RATIO_BITS) - 1
    centre = min(top, max(1, round(r * (1 << RATIO_BITS))))
    candidates = {min(top, max(1, round(centre * f))) for f in (0.97, 0.985, 1.0, 1.015, 1.03)}
    return min(sorted(candidates), key=lambda c: table_bits(symbols, c, magnitude))


def _model(ratio_code: int, magnitude: int):
    import constriction

    return constriction.stream.model.Categorical(_probabilities(ratio_code, magnitude),
                                                 perfect=False)


def encode_grids(grids: Sequence[np.ndarray]) -> tuple[list[tuple[int, int]], bytes]:
    """Code integer grids: per grid ``(K, ratio_code)``, and one ANS stream of all of them."""
    import constriction

    params = []
    for g in grids:
        magnitude = int(np.abs(g).max(initial=0))
        if magnitude > MAX_MAGNITUDE:
            raise ValueError(f"latent magnitude {magnitude} exceeds {MAX_MAGNITUDE}")
        params.append((magnitude, fit_ratio(g)))
    coder = constriction.stream.stack.AnsCoder()
    for g, (magnitude, code) in reversed(list(zip(grids, params))):
        if magnitude == 0:  # all zeros: the table has one symbol, which costs nothing
            continue
        coder.encode_reverse((g.ravel() + magnitude).astype(np.int32), _model(code, magnitude))
    return params, coder.get_compressed().astype("<u4").tobytes()


def decode_grids(data: bytes, shapes: Sequence[tuple[int, int]],
                 params: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """Inverse of :func:`encode_grids`; ValueError if ``data`` is not such a stream."""
    import constriction

    if len(data) % 4:
        raise ValueError("latent stream length is not a multiple of 4 bytes")
    words = np.frombuffer(data, "<u4").astype(np.uint32)
    try:
        coder = constriction.stream.stack.AnsCoder(words)
        grids = []
        for shape, (magnitude, code) in zip(shapes, params):
            n = shape[0] * shape[1]
            symbols = (coder.decode(_model(code, magnitude), n) if n and magnitude else
                       np.zeros(n, np.int32))
            grids.append(symbols.astype(np.int64).reshape(shape) - magnitude)
    except (ValueError, RuntimeError, AssertionError) as err:
        raise ValueError(f"latent stream does not decode ({err})") from None
    if not coder.is_empty():
        raise ValueError("latent stream has bytes left over after the last grid")
    return grids
