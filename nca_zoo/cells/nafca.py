"""NAFCA cell (LNCA paper §3.1.2, Eq. 2): attention-free, strictly local NCA rule after NAFBlock.

Perception block: LayerNorm -> 1x1 conv -> 1x1 grouped conv -> SimpleGate -> ``x * C(x)`` with C a
single-filter 3x3 conv (Eq. 2, the only spatial operator: the Moore neighbourhood) -> 1x1 conv ->
dropout, residual with a zero-initialised scale ``beta``.  Update block: the same without the
spatial gate (FFN), residual scale ``gamma``.  Head: LayerNorm -> 1x1 conv to ``[output | hidden]``.
Nothing is pooled globally (NAFNet's channel attention would break locality).  Layer sizes follow
the authors' code (docs/paper-to-code.md): embed 128, FFN expansion 4, dropout 0.1.

The authors' second 1x1 conv is grouped (one input channel per group) where NAFNet has a 3x3
depthwise conv.  So a cell sees its neighbours only through ``C``'s one channel: a scalar per
cell.  ``perception_kernel=3`` (an option of this library) makes that conv NAFNet's 3x3 depthwise
conv, so every embedded channel reads its Moore neighbourhood; the rule stays local (a cell's
update depends on the 5x5 cells around it: the depthwise conv, then ``C``).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..layers.norm import LayerNorm2d


class SimpleGate(nn.Module):
    """NAFNet's gate: split the channels in two halves and multiply them."""

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 2C, H, W)`` -> ``(B, C, H, W)``: first half times second half."""
        a, b = x.chunk(2, dim=1)
        return a * b


class NAFCACell(nn.Module):
    """NAFCA transition function.  ``cell(state, cond=None) -> update`` for ``[output | hidden]``.

    Args:
        in_channels, out_channels, hidden_channels: state layout (LNCA: 16, 16, 32).
        embed_dim: width after the first 1x1 conv (reference: 128).
        ffn_expand: expansion of the update block (reference: 4).
        dropout: dropout of both blocks (reference: 0.1).
        perception_kernel: kernel of the grouped conv after the first 1x1 conv: 1 (the
            authors') or 3 (NAFNet's depthwise 3x3: per-channel neighbourhood perception).
        zero_head: start the head's 1x1 conv at zero, so the untrained cell proposes no update
            (an option of this library; the authors' head is initialised like any conv).  With
            LNCA's residual read-out an untrained NCA then returns its input exactly.
    """

    def __init__(self, in_channels: int = 16, out_channels: int = 16, hidden_channels: int = 32,
                 embed_dim: int = 128, ffn_expand: int = 4, dropout: float = 0.1,
                 perception_kernel: int = 1, zero_head: bool = False) -> None:
        super().__init__()
        if perception_kernel not in (1, 3):
            raise ValueError(f"perception_kernel must be 1 (the authors') or 3 (NAFNet's "
                             f"depthwise conv), got {perception_kernel!r}")
        c = in_channels + out_channels + hidden_channels
        self.in_channels, self.out_channels = in_channels, out_channels
        self.hidden_channels, self.channels = hidden_channels, c
        # perception block
        self.norm1 = LayerNorm2d(c, eps=1e-6)
        self.conv1 = nn.Conv2d(c, embed_dim, 1)
        self.conv2 = nn.Conv2d(embed_dim, 2 * embed_dim, perception_kernel,
                               padding=perception_kernel // 2, groups=embed_dim)
        self.gate = SimpleGate()
        self.spatial = nn.Conv2d(embed_dim, 1, 3, padding=1)  # C in Eq. 2: Moore neighbourhood
        self.conv3 = nn.Conv2d(embed_dim, c, 1)
        self.drop1 = nn.Dropout(dropout)
        self.beta = nn.Parameter(torch.zeros(c))
        # update block
        self.norm2 = LayerNorm2d(c, eps=1e-6)
        self.conv4 = nn.Conv2d(c, ffn_expand * c, 1)
        self.conv5 = nn.Conv2d(ffn_expand * c // 2, c, 1)
        self.drop2 = nn.Dropout(dropout)
        self.gamma = nn.Parameter(torch.zeros(c))
        # head
        self.head = nn.Sequential(LayerNorm2d(c, eps=1e-6),
                                  nn.Conv2d(c, out_channels + hidden_channels, 1))
        if zero_head:
            nn.init.zeros_(self.head[1].weight)
            nn.init.zeros_(self.head[1].bias)

    def forward(self, state: Tensor, cond=None) -> Tensor:
        """``state`` ``(B, channels, H, W)`` -> update ``(B, out + hidden, H, W)`` (no ``cond``)."""
        if state.shape[1] != self.channels:
            raise ValueError(f"NAFCACell expects {self.channels} state channels, "
                             f"got {state.shape[1]}")
        x = self.gate(self.conv2(self.conv1(self.norm1(state))))
        x = x * self.spatial(x)
        y = state + self.drop1(self.conv3(x)) * self.beta[:, None, None]
        x = self.conv5(self.gate(self.conv4(self.norm2(y))))
        y = y + self.drop2(x) * self.gamma[:, None, None]
        return self.head(y)

