"""Discretised mixture of logistics over 8-bit RGB pixels (PixelCNN++, Salimans et al. 2017).

The likelihood p(x|z) of VNCA (Palm et al. 2022, §3; the official code uses it with one mixture
component).  Pixels live on [-1, 1] in 256 bins of width 2/255; the three colours are
autoregressive within a pixel (green's location shifts with red, blue's with red and green).

Channel layout of the ``10 * n_mix`` parameter maps (PixelCNN++'s and the VNCA code's): first the
``n_mix`` mixture logits, then for each colour ``c`` a block of ``3 * n_mix`` channels holding the
locations, the log-scales and the colour coefficients (tanh-squashed) of the ``n_mix``
components.  The coefficients of the red block couple green to red; those of the green and blue
blocks couple blue to red and to green.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

#: parameter maps per mixture component: 1 logit + 3 colours x (location, log-scale, coefficient)
PARAMS_PER_MIXTURE = 10
#: smallest log-scale (PixelCNN++'s clamp)
MIN_LOG_SCALE = -7.0
_COLOURS = 3


def dml_channels(n_mix: int) -> int:
    """Parameter maps needed for ``n_mix`` components (10 each)."""
    return PARAMS_PER_MIXTURE * n_mix


class DiscretizedLogisticMixture:
    """p(x) per pixel from parameter maps ``(B, 10 * n_mix, H, W)``; see the module docstring.

    Everything is computed in float32 whatever the maps' dtype (bf16 would lose the 1/255 bins).
    """

    def __init__(self, params: Tensor, n_mix: int = 1) -> None:
        if params.dim() != 4 or params.shape[1] != dml_channels(n_mix):
            raise ValueError(f"expected parameter maps (B, {dml_channels(n_mix)}, H, W) for "
                             f"{n_mix} mixture component(s), got {tuple(params.shape)}")
        self.n_mix = n_mix
        p = params.float()
        b, _, h, w = p.shape
        self.logits = p[:, :n_mix]                                   # (B, M, H, W)
        rest = p[:, n_mix:].reshape(b, _COLOURS, 3, n_mix, h, w)     # colour, kind, component
        self.loc = rest[:, :, 0]                                     # (B, 3, M, H, W)
        self.log_scale = rest[:, :, 1].clamp(min=MIN_LOG_SCALE)
        self.coeff = torch.tanh(rest[:, :, 2])

    def _coupled_loc(self, x: Tensor) -> Tensor:
        """Locations of the three colours given the pixel ``x`` (B, 3, 1, H, W) in [-1, 1]."""
        c = self.coeff
        red = self.loc[:, 0]
        green = self.loc[:, 1] + c[:, 0] * x[:, 0]
        blue = self.loc[:, 2] + c[:, 1] * x[:, 0] + c[:, 2] * x[:, 1]
        return torch.stack([red, green, blue], 1)

    def log_prob(self, x: Tensor) -> Tensor:
        """Log-likelihood (nats, colours summed) per pixel ``(B, H, W)`` of ``x`` in [0, 1].

        ``x`` is mapped to [-1, 1]; the end bins take the logistic's tails (PixelCNN++).
        """
        if x.shape[1] != _COLOURS or x.shape[-2:] != self.logits.shape[-2:]:
            raise ValueError(f"x must be (B, 3, {self.logits.shape[-2]}, "
                             f"{self.logits.shape[-1]}), got {tuple(x.shape)}")
        x = (x.float() * 2 - 1).unsqueeze(2)                          # (B, 3, 1, H, W)
        centred = x - self._coupled_loc(x)
        inv_s = torch.exp(-self.log_scale)
        plus, minus = inv_s * (centred + 1 / 255), inv_s * (centred - 1 / 255)
        log_cdf_plus = plus - F.softplus(plus)                        # log sigmoid(plus)
        log_one_minus_cdf_minus = -F.softplus(minus)                  # log (1 - sigmoid(minus))
        delta = torch.sigmoid(plus) - torch.sigmoid(minus)
        mid = inv_s * centred
        log_pdf_mid = mid - self.log_scale - 2 * F.softplus(mid) - math.log(127.5)
        inner = torch.where(delta > 1e-5, torch.log(delta.clamp(min=1e-12)), log_pdf_mid)
        log_p = torch.where(x < -0.999, log_cdf_plus,
                            torch.where(x > 0.999, log_one_minus_cdf_minus, inner))
        log_p = log_p.sum(1) + F.log_softmax(self.logits, 1)          # (B, M, H, W)
        return torch.logsumexp(log_p, 1)

    def _uniform(self, shape, generator: Optional[torch.Generator]) -> Tensor:
        dev = generator.device if generator is not None else self.logits.device
        u = torch.rand(shape, generator=generator, device=dev).to(self.logits.device)
        return u.mul(1 - 2e-5).add(1e-5)                              # in (1e-5, 1 - 1e-5)

    def _pick(self, generator: Optional[torch.Generator]) -> Tensor:
        """One-hot ``(B, 1, M, H, W)`` of a component per pixel (Gumbel-max on the logits)."""
        gumbel = -torch.log(-torch.log(self._uniform(self.logits.shape, generator)))
        k = (self.logits + gumbel).argmax(1)
        return F.one_hot(k, self.n_mix).permute(0, 3, 1, 2).unsqueeze(1).to(self.loc.dtype)

    def sample(self, generator: Optional[torch.Generator] = None) -> Tensor:
        """One draw per pixel, ``(B, 3, H, W)`` in [0, 1] (continuous, not rounded to 8 bits)."""
        sel = self._pick(generator)
        loc, log_s, c = ((t * sel).sum(2) for t in (self.loc, self.log_scale, self.coeff))
        u = self._uniform(loc.shape, generator)
        x = loc + torch.exp(log_s) * (torch.log(u) - torch.log1p(-u))
        return self._couple_and_clip(x, c)

    def location(self, clip: bool = True) -> Tensor:
        """The most probable component's location per pixel, colours coupled, ``(B, 3, H, W)``.

        A deterministic image (what the decoder centres on) on the [0, 1] scale, clipped to it
        unless ``clip=False`` (for losses that need gradients everywhere); :meth:`sample` adds the
        logistic noise.
        """
        k = self.logits.argmax(1)
        sel = F.one_hot(k, self.n_mix).permute(0, 3, 1, 2).unsqueeze(1).to(self.loc.dtype)
        return self._couple_and_clip((self.loc * sel).sum(2), (self.coeff * sel).sum(2), clip)

    @staticmethod
    def _couple_and_clip(x: Tensor, c: Tensor, clip: bool = True) -> Tensor:
        def f(v: Tensor) -> Tensor:
            return v.clamp(-1, 1) if clip else v
        red = f(x[:, 0])
        green = f(x[:, 1] + c[:, 0] * red)
        blue = f(x[:, 2] + c[:, 1] * red + c[:, 2] * green)
        return (torch.stack([red, green, blue], 1) + 1) / 2
