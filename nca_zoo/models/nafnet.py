"""NAFNet baseline (Chen et al. 2022), written for the LNCA comparison (LNCA paper §4, Tables 1-5).

NAFBlock: LayerNorm2d -> 1x1 conv (c->2c) -> 3x3 depthwise conv -> SimpleGate -> simplified channel
attention (global average pool -> 1x1 conv, a gate) -> 1x1 conv, skip-init ``beta``; then
LayerNorm2d -> 1x1 (c->2c) -> SimpleGate -> 1x1, skip-init ``gamma``.  U-Net: 3x3 intro,
``Conv 2x2 s2`` downsampling, ``1x1 + PixelShuffle`` upsampling, additive skips, 3x3 ending and a
global residual.  Registered: ``nafnet_small`` (width 16; the paper's baseline is width 64,
enc [2,2,4,8], middle 12, dec [2,2,2,2]).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._registry import register_model
from ..cells.nafca import SimpleGate
from ..layers import check_images
from ..layers.norm import LayerNorm2d


class NAFBlock(nn.Module):
    """One NAFNet block of width ``c`` (DW expand 2, FFN expand 2)."""

    def __init__(self, c: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = LayerNorm2d(c, eps=1e-6)
        self.conv1 = nn.Conv2d(c, 2 * c, 1)
        self.conv2 = nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=2 * c)
        self.gate = SimpleGate()
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c, 1))
        self.conv3 = nn.Conv2d(c, c, 1)
        self.norm2 = LayerNorm2d(c, eps=1e-6)
        self.conv4 = nn.Conv2d(c, 2 * c, 1)
        self.conv5 = nn.Conv2d(c, c, 1)
        self.drop = nn.Dropout(dropout)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, inp: Tensor) -> Tensor:
        """``(B, c, H, W)`` -> ``(B, c, H, W)``: the conv/attention half, then the FFN half."""
        x = self.gate(self.conv2(self.conv1(self.norm1(inp))))
        x = self.conv3(x * self.sca(x))
        y = inp + self.drop(x) * self.beta
        x = self.conv5(self.gate(self.conv4(self.norm2(y))))
        return y + self.drop(x) * self.gamma


class NAFNet(nn.Module):
    """NAFNet U-Net; input is padded to a multiple of ``2 ** len(enc_blocks)`` and cropped back."""

    def __init__(self, width: int = 16, enc_blocks: Sequence[int] = (1, 1, 1, 1),
                 middle_blocks: int = 1, dec_blocks: Sequence[int] = (1, 1, 1, 1),
                 in_channels: int = 3) -> None:
        super().__init__()
        if len(enc_blocks) != len(dec_blocks):
            raise ValueError("enc_blocks and dec_blocks must have the same length")
        self.intro = nn.Conv2d(in_channels, width, 3, padding=1)
        self.ending = nn.Conv2d(width, in_channels, 3, padding=1)
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        self.ups, self.decoders = nn.ModuleList(), nn.ModuleList()
        c = width
        for n in enc_blocks:
            self.encoders.append(nn.Sequential(*[NAFBlock(c) for _ in range(n)]))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, 2))
            c *= 2
        self.middle = nn.Sequential(*[NAFBlock(c) for _ in range(middle_blocks)])
        for n in dec_blocks:
            self.ups.append(nn.Sequential(nn.Conv2d(c, 2 * c, 1, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(c) for _ in range(n)]))
        self.multiple = 2 ** len(enc_blocks)

    def forward(self, inp: Tensor) -> Tensor:
        """``(B, 3, H, W)`` -> ``(B, 3, H, W)``: the restored image (global residual)."""
        check_images(inp)
        h, w = inp.shape[-2:]
        ph, pw = (-h) % self.multiple, (-w) % self.multiple
        x = F.pad(inp, (0, pw, 0, ph))
        x = self.intro(x)
        skips = []
        for enc, down in zip(self.encoders, self.downs):
            x = enc(x)
            skips.append(x)
            x = down(x)
        x = self.middle(x)
        for up, dec, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = dec(up(x) + skip)
        x = self.ending(x) + F.pad(inp, (0, pw, 0, ph))
        return x[..., :h, :w]


@register_model(num_params=1_137_203, family="restoration",
                tiny=dict(width=4))
def nafnet_small(**kwargs) -> NAFNet:
    """NAFNet at width 16, one block per level (4 levels), one middle block."""
    return NAFNet(**kwargs)
