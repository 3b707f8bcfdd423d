"""UNet DDPM baseline of the Diff-NCA paper (Table 3, App. E.3).

The layout is the one of the widely used diffusers ``UNet2DModel`` (Ho et al.'s DDPM UNet):
``conv_in`` -> per level ``layers_per_block`` ResNet blocks (+ self-attention at the listed
resolutions) and a strided-conv downsample -> middle (ResNet, attention, ResNet) -> per level
``layers_per_block + 1`` ResNet blocks on concatenated skips (+ attention) and a nearest+conv
upsample -> GroupNorm, SiLU, ``conv_out``.  With it the Table 3 parameter counts come out exactly
(S: 652,195; M: 3,940,547), which pins down the paper's baseline.  Written here (no diffusers
dependency); same call as the NCA denoisers: ``model(x_t, t / T) -> eps``.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from .._registry import register_model
from ..layers import timestep_embedding


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv, + time projection, GroupNorm-SiLU-dropout-conv.

    The shortcut is a 1x1 conv when ``cin != cout``.
    """

    def __init__(self, cin: int, cout: int, temb: int, groups: int = 32, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb, cout)
        self.norm2, self.conv2 = nn.GroupNorm(groups, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        """``x`` ``(B, cin, H, W)``, time embedding ``emb`` ``(B, temb)`` -> ``(B, cout, H, W)``."""
        h = self.conv1(F.silu(self.norm1(x))) + self.temb(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class Attention(nn.Module):
    """Single-block spatial self-attention with a residual (heads of ``head_dim`` channels)."""

    def __init__(self, ch: int, groups: int = 32, head_dim: int = 8):
        super().__init__()
        self.norm, self.heads = nn.GroupNorm(groups, ch), max(1, ch // head_dim)
        self.q, self.k, self.v, self.out = (nn.Linear(ch, ch) for _ in range(4))

    def forward(self, x: Tensor, emb: Optional[Tensor] = None) -> Tensor:
        """``(B, ch, H, W)`` -> ``(B, ch, H, W)``; ``emb`` is ignored (same call as a ResBlock)."""
        h, w = x.shape[-2:]
        z = rearrange(self.norm(x), "b c h w -> b (h w) c")
        q, k, v = (rearrange(f(z), "b n (m d) -> b m n d", m=self.heads)
                   for f in (self.q, self.k, self.v))
        o = rearrange(F.scaled_dot_product_attention(q, k, v), "b m n d -> b n (m d)")
        return x + rearrange(self.out(o), "b (h w) c -> b c h w", h=h, w=w)


class UNet(nn.Module):
    """DDPM UNet; ``channels`` per level, ``attn_resolutions`` in pixels for ``image_size`` input.

    Args:
        channels: output channels per level, e.g. (32, 64) for Table 3's "Small".
        layers_per_block: ResNet blocks per level on the way down (``+1`` on the way up).
        attn_resolutions: feature-map sizes (at ``image_size`` input) that get self-attention.
        image_size: training size, only to place the attention levels (any size runs).
        time_scale: the model is called with ``t / T``; it embeds ``t_frac * time_scale``.
    """

    def __init__(self, channels: Sequence[int] = (32, 64), layers_per_block: int = 1,
                 attn_resolutions: Sequence[int] = (), image_size: int = 64,
                 norm_groups: int = 32, dropout: float = 0.0, time_scale: float = 1000.0) -> None:
        super().__init__()
        ch = list(channels)
        if not ch or any(c % norm_groups for c in ch):
            raise ValueError(f"channels must be non-empty multiples of norm_groups={norm_groups}, "
                             f"got {ch}")
        self.levels, self.time_scale = len(ch), float(time_scale)
        temb = 4 * ch[0]
        self.conv_in = nn.Conv2d(3, ch[0], 3, padding=1)
        self.time_mlp = nn.Sequential(nn.Linear(ch[0], temb), nn.SiLU(), nn.Linear(temb, temb))
        attn_at = {i for i in range(len(ch)) if image_size // 2 ** i in set(attn_resolutions)}
        g = norm_groups

        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        skips, cur = [ch[0]], ch[0]
        for i, c in enumerate(ch):
            blocks = []
            for _ in range(layers_per_block):
                blocks.append(ResBlock(cur, c, temb, g, dropout))
                if i in attn_at:
                    blocks.append(Attention(c, g))
                cur = c
                skips.append(c)
            self.down.append(nn.ModuleList(blocks))
            last = i == len(ch) - 1
            self.downsample.append(nn.Identity() if last
                                   else nn.Conv2d(c, c, 3, stride=2, padding=1))
            if not last:
                skips.append(c)
        self.mid = nn.ModuleList([ResBlock(cur, cur, temb, g, dropout), Attention(cur, g),
                          ResBlock(cur, cur, temb, g, dropout)])
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i, c in reversed(list(enumerate(ch))):
            blocks = []
            for _ in range(layers_per_block + 1):
                blocks.append(ResBlock(cur + skips.pop(), c, temb, g, dropout))
                if i in attn_at:
                    blocks.append(Attention(c, g))
                cur = c
            self.up.append(nn.ModuleList(blocks))
            self.upsample.append(nn.Identity() if i == 0 else nn.Conv2d(c, c, 3, padding=1))
        self.norm_out, self.conv_out = nn.GroupNorm(g, cur), nn.Conv2d(cur, 3, 3, padding=1)

    def forward(self, x: Tensor, t_frac: Tensor, region: Optional[Tensor] = None) -> Tensor:
        """Predict ε for ``x`` (B, 3, H, W) with H, W divisible by 2^(levels-1).

        ``region`` is accepted for the samplers' sake and ignored: a UNet always recomputes the
        whole image (the samplers still write only the masked pixels).
        """
        f = 2 ** (self.levels - 1)
        if x.shape[-2] % f or x.shape[-1] % f:
            raise ValueError(f"UNet input size must be divisible by {f}, got {tuple(x.shape[-2:])}")
        t = torch.as_tensor(t_frac, device=x.device).float().expand(x.shape[0]) * self.time_scale
        emb = self.time_mlp(timestep_embedding(t, self.conv_in.out_channels))
        h = self.conv_in(x)
        hs = [h]
        for blocks, down in zip(self.down, self.downsample):
            for blk in blocks:
                h = blk(h, emb)
                if isinstance(blk, ResBlock):
                    hs.append(h)
            if not isinstance(down, nn.Identity):
                h = down(h)
                hs.append(h)
        for blk in self.mid:
            h = blk(h, emb)
        for blocks, up in zip(self.up, self.upsample):
            for blk in blocks:
                h = (blk(torch.cat([h, hs.pop()], 1), emb) if isinstance(blk, ResBlock)
                     else blk(h, emb))
            if not isinstance(up, nn.Identity):
                h = up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


#: Table 3 of the Diff-NCA paper: channels, ResNet blocks per resolution, attention resolutions.
UNET_SIZES = {"s": ((32, 64), 1, ()), "m": ((32, 64, 128), 2, (16,)),
              "b": ((64, 128, 128, 256), 2, (16,)),
              "l": ((128, 128, 256, 256, 512, 512), 2, (16, 8))}


def _unet(size: str, **kwargs) -> UNet:
    ch, layers, attn = UNET_SIZES[size]
    return UNet(**{"channels": ch, "layers_per_block": layers, "attn_resolutions": attn, **kwargs})


@register_model(num_params=652_195, family="denoiser",
                tiny=dict(channels=[8, 16], norm_groups=4))
def unet_s(**kwargs) -> UNet:
    """Table 3 "Small": channels (32, 64), 1 block, no attention (652,195 params)."""
    return _unet("s", **kwargs)


@register_model(num_params=3_940_547, family="denoiser",
                tiny=dict(channels=[8, 16, 16], norm_groups=4))
def unet_m(**kwargs) -> UNet:
    """Table 3 "Medium": (32, 64, 128), 2 blocks, attention at 16 (3,940,547 params)."""
    return _unet("m", **kwargs)


@register_model(num_params=17_217_923, family="denoiser",
                tiny=dict(channels=[8, 16, 16, 32], norm_groups=4))
def unet_b(**kwargs) -> UNet:
    """Table 3 "Big": (64, 128, 128, 256), 2 blocks, attention at 16 (17,217,923 params)."""
    return _unet("b", **kwargs)


@register_model(num_params=111_051_779, family="denoiser",
                tiny=dict(channels=[8, 8, 16, 16, 32, 32], norm_groups=4))
def unet_l(**kwargs) -> UNet:
    """Table 3 "Large": (128, 128, 256, 256, 512, 512), 2 blocks, attention at 16 and 8."""
    return _unet("l", **kwargs)
