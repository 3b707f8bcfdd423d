"""Restormer baseline (Zamir et al. 2022), written for the LNCA comparison (LNCA paper §4).

TransformerBlock = ``x + MDTA(LN(x))`` then ``x + GDFN(LN(x))``.  MDTA: 1x1 + 3x3 depthwise conv to
q, k, v; q and k L2-normalised over pixels; a ``C x C`` (transposed, channel) attention per head
with a learnable temperature -- linear in the number of pixels.  GDFN: 1x1 to 2 x hidden, 3x3
depthwise, ``gelu(x1) * x2``, 1x1.  4-level U-Net with PixelUnshuffle/PixelShuffle, concatenated
skips (1x1 reduction except at level 1), refinement blocks and a global residual.
Registered: ``restormer_small`` (dim 16, one block per level; the paper's baseline: dim 48,
blocks [4,6,6,8], refinement 4).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from .._registry import register_model
from ..layers import check_images
from ..layers.norm import LayerNorm2d


class MDTA(nn.Module):
    """Multi-Dconv head Transposed Attention."""

    def __init__(self, dim: int, heads: int, bias: bool = False) -> None:
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(dim, 3 * dim, 1, bias=bias)
        self.qkv_dw = nn.Conv2d(3 * dim, 3 * dim, 3, padding=1, groups=3 * dim, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, dim, H, W)`` -> ``(B, dim, H, W)``: channel (transposed) attention per head."""
        h, w = x.shape[-2:]
        q, k, v = self.qkv_dw(self.qkv(x)).chunk(3, dim=1)
        q, k, v = (rearrange(t, "b (head c) h w -> b head c (h w)", head=self.heads)
                   for t in (q, k, v))
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = (q @ k.transpose(-2, -1) * self.temperature).softmax(dim=-1)
        out = rearrange(attn @ v, "b head c (h w) -> b (head c) h w", h=h, w=w)
        return self.project_out(out)


class GDFN(nn.Module):
    """Gated-Dconv Feed-forward Network."""

    def __init__(self, dim: int, expansion: float = 2.66, bias: bool = False) -> None:
        super().__init__()
        hidden = int(dim * expansion)
        self.project_in = nn.Conv2d(dim, 2 * hidden, 1, bias=bias)
        self.dw = nn.Conv2d(2 * hidden, 2 * hidden, 3, padding=1, groups=2 * hidden, bias=bias)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, dim, H, W)`` -> ``(B, dim, H, W)``: ``gelu(x1) * x2`` between 1x1 convs."""
        a, b = self.dw(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(a) * b)


class RestormerBlock(nn.Module):
    """Transformer block: ``x + MDTA(LN(x))`` then ``x + GDFN(LN(x))``."""

    def __init__(self, dim: int, heads: int, expansion: float = 2.66, bias: bool = False) -> None:
        super().__init__()
        self.norm1, self.attn = LayerNorm2d(dim, eps=1e-5), MDTA(dim, heads, bias)
        self.norm2, self.ffn = LayerNorm2d(dim, eps=1e-5), GDFN(dim, expansion, bias)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, dim, H, W)`` -> ``(B, dim, H, W)``."""
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


def _stage(dim: int, n: int, heads: int, expansion: float) -> nn.Sequential:
    return nn.Sequential(*[RestormerBlock(dim, heads, expansion) for _ in range(n)])


class Restormer(nn.Module):
    """Restormer U-Net with 4 levels; input padded to a multiple of 8 and cropped back."""

    def __init__(self, dim: int = 16, blocks: Sequence[int] = (1, 1, 1, 1), refinement: int = 1,
                 heads: Sequence[int] = (1, 2, 4, 8), expansion: float = 2.66,
                 in_channels: int = 3) -> None:
        super().__init__()
        if len(blocks) != 4 or len(heads) != 4:
            raise ValueError("Restormer needs 4 levels: blocks and heads of length 4")
        d = [dim, 2 * dim, 4 * dim, 8 * dim]
        self.embed = nn.Conv2d(in_channels, dim, 3, padding=1, bias=False)
        self.enc = nn.ModuleList(_stage(d[i], blocks[i], heads[i], expansion) for i in range(3))
        self.down = nn.ModuleList(nn.Sequential(nn.Conv2d(d[i], d[i] // 2, 3, padding=1,
                                                          bias=False),
                                                nn.PixelUnshuffle(2)) for i in range(3))
        self.latent = _stage(d[3], blocks[3], heads[3], expansion)
        self.up = nn.ModuleList(nn.Sequential(nn.Conv2d(d[i + 1], 2 * d[i + 1], 3, padding=1,
                                                        bias=False),
                                              nn.PixelShuffle(2)) for i in range(3))
        # after concatenation: level 3 and 2 reduce 2d -> d; level 1 keeps 2*dim
        self.reduce = nn.ModuleList([nn.Identity(), nn.Conv2d(2 * d[1], d[1], 1, bias=False),
                                     nn.Conv2d(2 * d[2], d[2], 1, bias=False)])
        dec_dims = [2 * dim, d[1], d[2]]
        self.dec = nn.ModuleList(_stage(dec_dims[i], blocks[i], heads[i], expansion)
                                 for i in range(3))
        self.refine = _stage(2 * dim, refinement, heads[0], expansion)
        self.output = nn.Conv2d(2 * dim, in_channels, 3, padding=1, bias=False)

    def forward(self, inp: Tensor) -> Tensor:
        """``(B, 3, H, W)`` -> ``(B, 3, H, W)``: the restored image (global residual)."""
        check_images(inp)
        h, w = inp.shape[-2:]
        ph, pw = (-h) % 8, (-w) % 8
        padded = F.pad(inp, (0, pw, 0, ph))
        x, skips = self.embed(padded), []
        for enc, down in zip(self.enc, self.down):
            x = enc(x)
            skips.append(x)
            x = down(x)
        x = self.latent(x)
        for i in (2, 1, 0):
            x = self.dec[i](self.reduce[i](torch.cat([self.up[i](x), skips[i]], 1)))
        x = self.output(self.refine(x)) + padded
        return x[..., :h, :w]


@register_model(num_params=800_547, family="restoration",
                tiny=dict(dim=4))
def restormer_small(**kwargs) -> Restormer:
    """Restormer at dim 16, one block per level, one refinement block, heads [1,2,4,8]."""
    return Restormer(**kwargs)
