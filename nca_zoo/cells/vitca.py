"""ViTCA cell (Tesfaldet et al. 2022; LNCA paper §3.1.2): Moore-neighbourhood self-attention.

Every cell is one token.  Cell vector ``[input | output | hidden]`` -> linear embedding -> + 1-D
sinusoidal positional encoding over the raster index (``vit_handcrafted``) -> ``depth`` pre-norm
transformer blocks (localized MHSA + GELU MLP) -> LayerNorm -> zero-initialised linear head that
returns the update of ``[output | hidden]``.  The input channels are never written (the automaton
keeps ``fixed_channels = in_channels``).

Localized attention: each query attends to the keys/values of its 9 Moore neighbours (self
included), gathered with ``F.unfold``; out-of-image neighbours are zero vectors that are *not*
masked (as in the ViTCA authors' code).  Memory is ``B * N * 9 * inner`` --
linear in the number of pixels N, never an ``N x N`` matrix.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from ..layers import raster_position_encoding

POS_ENCODINGS = ("vit_handcrafted", "none")


class LocalizedAttention(nn.Module):
    """Multi-head self-attention restricted to the 3x3 neighbourhood of each token."""

    def __init__(self, dim: int, heads: int = 4, head_dim: int | None = None, dropout: float = 0.0):
        super().__init__()
        head_dim = head_dim or dim // heads
        inner = heads * head_dim
        self.heads, self.head_dim = heads, head_dim
        self.to_qkv = nn.Linear(dim, 3 * inner, bias=False)
        project = not (heads == 1 and head_dim == dim)
        self.to_out = (nn.Sequential(nn.Linear(inner, dim), nn.Dropout(dropout)) if project
                       else nn.Identity())

    def forward(self, x: Tensor, height: int, width: int) -> Tensor:
        """``x``: tokens ``(B, H*W, dim)`` in raster order -> ``(B, H*W, dim)``."""
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        q = rearrange(q, "b n (h d) -> b h n 1 d", h=self.heads)
        kv = rearrange(torch.cat([k, v], -1), "b (y x) c -> b c y x", y=height, x=width)
        kv = F.unfold(kv, kernel_size=3, padding=1)  # (B, 2*inner*9, N), zero-padded borders
        kv = rearrange(kv, "b (two h d nine) n -> two b h n nine d", two=2, h=self.heads, nine=9)
        attn = (q @ kv[0].transpose(-1, -2)) * self.head_dim ** -0.5  # (B, h, N, 1, 9)
        out = attn.softmax(dim=-1) @ kv[1]  # (B, h, N, 1, d)
        return self.to_out(rearrange(out, "b h n 1 d -> b n (h d)"))


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + Attn(LN(x))`` then ``x + FF(LN(x))`` with a GELU MLP."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = LocalizedAttention(dim, heads, dropout=dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout),
                                nn.Linear(mlp_dim, dim), nn.Dropout(dropout))

    def forward(self, x: Tensor, height: int, width: int) -> Tensor:
        """``x``: tokens ``(B, H*W, dim)`` in raster order -> ``(B, H*W, dim)``."""
        x = x + self.attn(self.norm1(x), height, width)
        return x + self.ff(self.norm2(x))


class ViTCACell(nn.Module):
    """ViTCA transition function.  ``cell(state, cond=None) -> update`` for ``[output | hidden]``.

    Args:
        in_channels: fixed input channels (RGB image in pixel space, latent in LNCA).
        out_channels: output channels (the read-out).
        hidden_channels: hidden channels (paper: 32).
        embed_dim, heads, mlp_dim, depth, dropout: transformer sizes (paper: 128, 4, 64, 1, 0).
        pos_encoding: ``"vit_handcrafted"`` (the authors' default) or ``"none"``.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, hidden_channels: int = 32,
                 embed_dim: int = 128, heads: int = 4, mlp_dim: int = 64, depth: int = 1,
                 dropout: float = 0.0, pos_encoding: str = "vit_handcrafted") -> None:
        super().__init__()
        if pos_encoding not in POS_ENCODINGS:
            raise ValueError(f"pos_encoding must be one of {POS_ENCODINGS}, got {pos_encoding!r}")
        if embed_dim % heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by heads {heads}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.hidden_channels = hidden_channels
        self.channels = in_channels + out_channels + hidden_channels
        self.pos_encoding = pos_encoding
        self.embed = nn.Linear(self.channels, embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(TransformerBlock(embed_dim, heads, mlp_dim, dropout)
                                    for _ in range(depth))
        self.head = nn.Sequential(nn.LayerNorm(embed_dim),
                                  nn.Linear(embed_dim, out_channels + hidden_channels))
        nn.init.zeros_(self.head[1].weight)  # no update before the first backward pass
        nn.init.zeros_(self.head[1].bias)

    def forward(self, state: Tensor, cond=None) -> Tensor:
        """``state`` ``(B, channels, H, W)`` -> update ``(B, out + hidden, H, W)`` (no ``cond``)."""
        b, c, h, w = state.shape
        if c != self.channels:
            raise ValueError(f"ViTCACell expects {self.channels} state channels, got {c}")
        x = self.embed(rearrange(state, "b c h w -> b (h w) c"))
        if self.pos_encoding == "vit_handcrafted":
            x = x + raster_position_encoding(h * w, x.shape[-1], x.device, x.dtype)
        x = self.dropout(x)
        for block in self.blocks:
            x = block(x, h, w)
        return rearrange(self.head(x), "b (h w) c -> b c h w", h=h, w=w)
