"""Sobel-MLP cell of the Growing NCA (Mordvintsev et al. 2020), as used by GNCA.

Perception (GNCA Eq. 1): ``z = concat(s, Kx * s, Ky * s)`` with fixed depthwise 3x3 Sobel
kernels (divided by 8, zero padding).  Update: 1x1 conv ``3*nc -> hs`` + ReLU, then 1x1 conv
``hs -> nc`` without bias, zero-initialised.  Parameters per NCA: ``hs * (4 * nc + 1)`` (Eq. 4).

A *bank* of ``num_models`` independent NCAs (GNCA trains one per patch) is one cell whose state
has ``num_models * nc`` channels, model-major: channels ``[k*nc, (k+1)*nc)`` belong to model k and
never mix with the others.  Because the Sobel perception is linear, the perception and the first
1x1 layer fold into one 3x3 kernel per model, and the whole bank runs as two grouped convolutions
(``groups=num_models``) per step -- no Python loop over patches.  The parameters stay in the
paper's form (``w1`` acts on ``[s, Kx s, Ky s]``), so Eq. 4 and the ``.nca`` layout hold exactly.

``cond`` may be a LongTensor of model indices; the state then holds only those models' channels
(one patch at a time, or one shard of the bank per GPU).

With ``fake_quant = True`` the weights pass through the 8-bit round trip of the ``.nca`` file in
the forward pass (straight-through gradient): quantisation-aware training.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers.quantize import DEFAULT_CODE_MAX, fake_quantize

SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0
IDENTITY = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


def sobel_perception(state: Tensor) -> Tensor:
    """GNCA Eq. 1: ``concat(s, Kx*s, Ky*s)`` with depthwise Sobel filters (zero padding)."""
    c = state.shape[1]
    kernels = torch.stack([SOBEL_X, SOBEL_X.T]).to(state)  # (2, 3, 3)
    weight = kernels.repeat(c, 1, 1).unsqueeze(1)  # (2c, 1, 3, 3): Kx s_0, Ky s_0, Kx s_1, ...
    grads = F.conv2d(state, weight, padding=1, groups=c).unflatten(1, (c, 2))
    return torch.cat([state, grads[:, :, 0], grads[:, :, 1]], dim=1)


class SobelMLPCell(nn.Module):
    """A bank of ``num_models`` Sobel-MLP NCAs with ``channels`` state channels each.

    Parameters (per model ``k``): ``w1[k]`` (hidden, 3*channels) over ``[s, Kx s, Ky s]``,
    ``b1[k]`` (hidden,), ``w2[k]`` (channels, hidden), zero-initialised, no bias.
    """

    def __init__(self, channels: int = 16, hidden: int = 32, num_models: int = 1) -> None:
        super().__init__()
        if channels < 4 or hidden < 1 or num_models < 1:
            raise ValueError(
                f"need channels >= 4 (RGB + at least one hidden), hidden >= 1, num_models >= 1; "
                f"got channels={channels}, hidden={hidden}, num_models={num_models}")
        self.channels, self.hidden, self.num_models = channels, hidden, num_models
        self.fake_quant = False  # runtime switch, not saved
        self.code_max = DEFAULT_CODE_MAX  # the file's code range, for fake_quant; not saved
        self.w1 = nn.Parameter(torch.empty(num_models, hidden, 3 * channels))
        self.b1 = nn.Parameter(torch.empty(num_models, hidden))
        self.w2 = nn.Parameter(torch.zeros(num_models, channels, hidden))
        bound = 1.0 / math.sqrt(3 * channels)  # nn.Conv2d's default init, per model
        nn.init.uniform_(self.w1, -bound, bound)
        nn.init.uniform_(self.b1, -bound, bound)

    @staticmethod
    def params_per_model(channels: int, hidden: int) -> int:
        """GNCA Eq. 4: ``hs * (4 * nc + 1)``."""
        return hidden * (4 * channels + 1)

    def fused_kernels(self, models: Optional[Tensor] = None) -> tuple[Tensor, Tensor, Tensor]:
        """Fold Sobel perception into ``w1``: grouped 3x3 weight, bias, grouped 1x1 weight."""
        w1, b1, w2 = self.w1, self.b1, self.w2
        if self.fake_quant:  # per-model scales, so selecting models afterwards is exact
            w1, b1, w2 = (fake_quantize(w, code_max=self.code_max) for w in (w1, b1, w2))
        if models is not None:
            w1, b1, w2 = w1[models], b1[models], w2[models]
        c = self.channels
        basis = torch.stack([IDENTITY, SOBEL_X, SOBEL_X.T]).to(w1)  # (3, 3, 3)
        # w1 columns are [identity block | Kx block | Ky block], each of `c` input channels.
        k3 = torch.einsum("mhkc,kij->mhcij", w1.unflatten(2, (3, c)), basis)
        m = w1.shape[0]
        return (k3.reshape(m * self.hidden, c, 3, 3), b1.reshape(-1),
                w2.reshape(m * c, self.hidden, 1, 1))

    def hidden_units(self, state: Tensor, cond: Optional[Tensor] = None,
                     kernels: Optional[tuple] = None) -> Tensor:
        """The update MLP's ReLU hidden layer for a bank state: ``(b, m * hidden, h, w)``.

        ``kernels``: :meth:`fused_kernels` already computed for this step.
        """
        k3, bias, _ = self.fused_kernels(cond) if kernels is None else kernels
        m = bias.numel() // self.hidden
        if state.shape[1] != m * self.channels:
            raise ValueError(f"state has {state.shape[1]} channels, expected {m} models x "
                             f"{self.channels} channels")
        return F.relu(F.conv2d(state, k3, bias, padding=1, groups=m),
                      inplace=not torch.is_grad_enabled())

    def forward(self, state: Tensor, cond: Optional[Tensor] = None) -> Tensor:
        """Update for a bank state ``(b, m * channels, h, w)``; ``cond`` selects the m models."""
        kernels = self.fused_kernels(cond)
        k1 = kernels[2]
        return F.conv2d(self.hidden_units(state, kernels=kernels), k1,
                        groups=k1.shape[0] // self.channels)
