"""The multiplicative-conditioned diffusion cell of Diff-NCA / FourierDiff-NCA (§3.3, App. E).

One NCA step of one stage (listings 1-2, names as there)::

    e  = embedding(octave_encoding(x, y, t, nca_step))   # 1x1 conv -> SiLU -> 1x1 conv, E channels
    z  = cat[state, e]
    p  = perceive(z)                                     # 3x3 conv, reflect padding in image space
    z  = cat[state, e, p] * mulCond0(e)                  # M_eb1: E -> h/4 -> 2C+E
    hd = mulCond1(e) * leaky_relu(norm(fc0(z)))          # M_eb2: E -> h/4 -> h
    update = fc1(hd)[:, fixed_channels:]                 # the automaton adds it through its mask

All convolutions carry ``weight_norm`` by default, as in the authors' v2 code; with it and the
affine ``GroupNorm(1, h)`` the parameter counts match the paper's appendix E exactly
(``docs/paper-to-code.md``).

``norm="group"`` (the paper) normalises over the whole image, so every update depends on global
statistics.  ``norm="cell"`` standardises each cell's hidden vector on its own (same affine
parameters), which keeps the rule strictly local: generation far beyond the training size, and
tiled generation with bounded memory, then give the same result as one big rollout.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm as _weight_norm

from ..layers import octave_encoding

EMBED_INPUTS = ("x", "y", "t", "step")
NORMS = ("group", "cell", "none")


class CellNorm(nn.Module):
    """Per-cell normalisation: standardise each pixel's channel vector, then an affine map."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        """Normalise ``x`` ``(B, C, H, W)`` over ``C`` at each pixel; same shape out."""
        mean = x.mean(1, keepdim=True)
        var = x.var(1, keepdim=True, unbiased=False)
        x = (x - mean) * torch.rsqrt(var + self.eps)
        return x * self.weight[:, None, None] + self.bias[:, None, None]


def make_norm(kind: str, channels: int) -> nn.Module:
    """``group``: GroupNorm(1, h) as in the paper; ``cell``: :class:`CellNorm`; ``none``."""
    if kind == "group":
        return nn.GroupNorm(1, channels, affine=True)
    if kind == "cell":
        return CellNorm(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


def _conv(cin: int, cout: int, k: int = 1, wn: bool = True, **kw) -> nn.Module:
    conv = nn.Conv2d(cin, cout, k, padding=k // 2, **kw)
    return _weight_norm(conv) if wn else conv


def _mlp(cin: int, hidden: int, cout: int, wn: bool) -> nn.Sequential:
    return nn.Sequential(_conv(cin, hidden, wn=wn), nn.SiLU(), _conv(hidden, cout, wn=wn))


class DiffusionCell(nn.Module):
    """One stage's update rule (image space or Fourier space).

    Args:
        channels: state channels ``C`` of this stage (96 in image space, 2*96 in Fourier space).
        hidden: hidden width ``h`` (512).
        fixed_channels: leading channels the cell never writes (the noisy image: 3, or 6 for the
            real+imaginary image spectrum); ``fc1`` still maps to all ``C`` as in the listings.
        embed_inputs: which scalars enter the embedding, a subset of ``("x", "y", "t", "step")``.
            Positions run 1 -> 0 across the grid, whatever its size (authors' convention).
        n_freqs: sinusoid frequencies per scalar (0 = raw scalars).
        embed_dim: embedding channels ``E`` (4 in FourierDiff-NCA, 2 in Diff-NCA).
        embed_hidden: width of the embedding MLP (256).
        cond_hidden: width of ``M_eb1`` / ``M_eb2`` (default ``h // 4`` = 128).
        norm: ``group`` (paper), ``cell`` (local) or ``none``.
        padding_mode: of the 3x3 perception: ``reflect`` in image space, ``zeros`` in Fourier space.
        step_norm: the NCA step is embedded as ``step / step_norm``.
        weight_norm: wrap every conv in weight normalisation (authors' code; exact counts).
        leaky_slope: negative slope of the leaky ReLU.

    ``cond`` is the diffusion time ``t / T`` per sample, shape ``(B,)``.
    """

    takes_step = True

    def __init__(self, channels: int, hidden: int = 512, *, fixed_channels: int = 3,
                 embed_inputs: Sequence[str] = EMBED_INPUTS, n_freqs: int = 2, embed_dim: int = 4,
                 embed_hidden: int = 256, cond_hidden: Optional[int] = None, norm: str = "group",
                 padding_mode: str = "reflect", step_norm: float = 20.0, weight_norm: bool = True,
                 leaky_slope: float = 0.01) -> None:
        super().__init__()
        bad = [k for k in embed_inputs if k not in EMBED_INPUTS]
        if bad or not embed_inputs or len(set(embed_inputs)) != len(embed_inputs):
            raise ValueError(f"embed_inputs must be distinct names from {EMBED_INPUTS}, "
                             f"got {embed_inputs}")
        if not 0 <= fixed_channels < channels:
            raise ValueError(f"fixed_channels must be in [0, {channels}), got {fixed_channels}")
        if n_freqs < 0 or embed_dim < 1 or hidden < 1:
            raise ValueError("n_freqs must be >= 0, embed_dim and hidden >= 1")
        self.channels, self.hidden, self.fixed_channels = channels, hidden, fixed_channels
        self.embed_inputs, self.n_freqs = tuple(embed_inputs), n_freqs
        self.step_norm, self.leaky_slope = float(step_norm), leaky_slope
        self.norm_kind = norm
        cond_hidden = cond_hidden or max(1, hidden // 4)
        n_embed_in = len(self.embed_inputs) * (2 * n_freqs if n_freqs else 1)
        wn = weight_norm
        self.embedding = _mlp(n_embed_in, embed_hidden, embed_dim, wn)
        self.perceive = _conv(channels + embed_dim, channels, 3, wn, padding_mode=padding_mode)
        self.fc0 = _conv(2 * channels + embed_dim, hidden, wn=wn)
        self.norm = make_norm(norm, hidden)
        self.fc1 = _conv(hidden, channels, wn=wn)
        self.mulCond0 = _mlp(embed_dim, cond_hidden, 2 * channels + embed_dim, wn)   # M_eb1
        self.mulCond1 = _mlp(embed_dim, cond_hidden, hidden, wn)                     # M_eb2

    @property
    def is_local(self) -> bool:
        """True when an update depends only on the 3x3 neighbourhood (no global norm/positions)."""
        return self.norm_kind != "group"

    def scalar_maps(self, state: Tensor, cond: Optional[Tensor], step: int) -> Tensor:
        """The embedded scalars as maps ``(B, K, H, W)``, each in [0, 1]."""
        b, _, h, w = state.shape
        dev, dt = state.device, state.dtype
        maps = []
        for name in self.embed_inputs:
            if name == "x":
                v = 1.0 - torch.arange(w, device=dev, dtype=dt) / max(w - 1, 1)
                maps.append(v.view(1, 1, 1, w).expand(b, 1, h, w))
            elif name == "y":
                v = 1.0 - torch.arange(h, device=dev, dtype=dt) / max(h - 1, 1)
                maps.append(v.view(1, 1, h, 1).expand(b, 1, h, w))
            elif name == "t":
                if cond is None:
                    raise ValueError("the diffusion cell needs cond = t / T, shape (B,)")
                maps.append(cond.to(dt).view(-1, 1, 1, 1).expand(b, 1, h, w))
            else:
                maps.append(state.new_full((b, 1, h, w), step / self.step_norm))
        return torch.cat(maps, 1)

    def embed(self, state: Tensor, cond: Optional[Tensor], step: int = 0) -> Tensor:
        """The embedding ``e`` of §3.2: ``(B, embed_dim, H, W)``."""
        return self.embedding(octave_encoding(self.scalar_maps(state, cond, step), self.n_freqs))

    def forward(self, state: Tensor, cond: Optional[Tensor] = None, step: int = 0) -> Tensor:
        """The update of ``state`` ``(B, C, H, W)``: ``(B, C - fixed_channels, H, W)``."""
        e = self.embed(state, cond, step)
        z = torch.cat([state, e], 1)
        z = torch.cat([z, self.perceive(z)], 1) * self.mulCond0(e)
        hid = F.leaky_relu(self.norm(self.fc0(z)), self.leaky_slope) * self.mulCond1(e)
        return self.fc1(hid)[:, self.fixed_channels:]
