"""LayerNorm over the channels of ``(B, C, H, W)`` maps (NAFNet, Restormer, the NAFCA cell)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class LayerNorm2d(nn.LayerNorm):
    """``nn.LayerNorm(C)`` applied at every pixel of an NCHW map (timm's ``LayerNorm2d``).

    Same parameters (``weight``, ``bias``) and the same arithmetic as ``timm.layers.LayerNorm2d``
    without its optional fused kernel, so state dicts and outputs are unchanged; written here so
    that building a model does not import timm.
    """

    def __init__(self, num_channels: int, eps: float = 1e-6, affine: bool = True) -> None:
        super().__init__(num_channels, eps=eps, elementwise_affine=affine)

    def forward(self, x: Tensor) -> Tensor:
        """Normalise over the channel dimension of ``x`` ``(B, C, H, W)``."""
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
