"""The latent-seeded NCA decoder: integer latent grids grow into an image in a few NCA steps.

The layout of the per-image neural codecs (Cool-chic, Ladune et al. 2023; C3, Kim et al. 2024),
with an NCA as the synthesis: the code of an image is ``levels`` integer grids ``y_l`` of
``ceil(H / 2^l) x ceil(W / 2^l)`` cells (``l = 0 .. levels - 1``, one channel each).  Each grid is
upsampled to the image size (bilinear), multiplied by a per-level gain and written into one state
channel; the other channels start at zero.  A Sobel-MLP rule (the GNCA cell,
:class:`~nca_zoo.cells.sobel_mlp.SobelMLPCell`, one model) then runs ``steps`` synchronous steps
``s <- s + rule(s)`` and the image is read from the first three channels, ``rgb = s[:3] + 0.5``.

The rule (cell weights and level gains) is shared by the whole image: a meta-learned rule ships
in the package and a file may carry its own.  Decode cost: :meth:`LatentNCA.macs_per_pixel`.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._registry import register_model
from ..automaton import Automaton
from ..cells.sobel_mlp import SobelMLPCell
from ..layers import RGB_CHANNELS

#: offset added to the RGB channels of the state at read-out (a zero state is mid-grey)
READOUT_OFFSET = 0.5
#: the per-level gains start here: latents are integers, the state works near [-1, 1]
INITIAL_GAIN = 0.1


def latent_shapes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    """Grid shape of every level: ``(ceil(H / 2^l), ceil(W / 2^l))`` for ``l < levels``."""
    if min(height, width, levels) < 1:
        raise ValueError(f"need height, width and levels >= 1, got {height}, {width}, {levels}")
    return [(math.ceil(height / 2**lvl), math.ceil(width / 2**lvl)) for lvl in range(levels)]


class LatentNCA(nn.Module):
    """Latent grids -> seed state -> ``steps`` NCA steps -> RGB.

    Args:
        levels: number of latent grids (resolutions 1, 1/2, ..., 1/2^(levels-1)).
        channels: state channels (>= levels, >= 4).
        hidden: hidden width of the rule's MLP.
        steps: NCA steps from the seed to the image.
        checkpoint_every: checkpointed BPTT segment length (0: plain BPTT).
    """

    def __init__(self, levels: int = 6, channels: int = 8, hidden: int = 16, steps: int = 6,
                 checkpoint_every: int = 0) -> None:
        super().__init__()
        if levels < 1 or channels < max(levels, RGB_CHANNELS + 1):
            raise ValueError(f"need levels >= 1 and channels >= max(levels, 4), got "
                             f"levels={levels}, channels={channels}")
        self.levels, self.channels, self.hidden, self.steps = levels, channels, hidden, steps
        self.gain = nn.Parameter(torch.full((levels,), INITIAL_GAIN))
        self.automaton = Automaton(SobelMLPCell(channels, hidden, num_models=1), steps=steps,
                                   checkpoint_every=checkpoint_every)

    @property
    def cell(self) -> SobelMLPCell:
        """The rule's transition function."""
        return self.automaton.cell

    def latent_shapes(self, height: int, width: int) -> list[tuple[int, int]]:
        """Grid shape of every level for an ``height x width`` image."""
        return latent_shapes(height, width, self.levels)

    def seed(self, latents: Sequence[Tensor], height: int, width: int) -> Tensor:
        """The initial state ``(B, channels, H, W)``: upsampled, scaled grids, then zeros."""
        if len(latents) != self.levels:
            raise ValueError(f"expected {self.levels} latent grids, got {len(latents)}")
        planes = [y if y.shape[-2:] == (height, width) else
                  F.interpolate(y, size=(height, width), mode="bilinear", align_corners=False)
                  for y in latents]
        state = torch.cat(planes, 1) * self.gain.view(1, -1, 1, 1)
        free = self.channels - self.levels
        return F.pad(state, (0, 0, 0, 0, 0, free))

    def forward(self, latents: Sequence[Tensor], height: int, width: int) -> Tensor:
        """The decoded image ``(B, 3, H, W)``, not clamped (the loss sees the raw read-out)."""
        state = self.automaton(self.seed(latents, height, width), self.steps)
        return state[:, :RGB_CHANNELS] + READOUT_OFFSET

    def macs_per_pixel(self) -> int:
        """Multiply-accumulates per decoded pixel: the rule's two layers, every step.

        The Sobel perception folds into the first layer (a 3x3 convolution ``channels -> hidden``),
        the second is ``hidden -> channels``; upsampling adds about 4 per level.
        """
        per_step = self.hidden * self.channels * 9 + self.hidden * self.channels
        return self.steps * per_step + 4 * self.levels


@register_model(num_params=534, family="latent_codec",
                tiny=dict(levels=3, channels=6, hidden=4, steps=2))
def latent_nca(**kwargs) -> LatentNCA:
    """The latent codec's rule: 6 levels, 8 channels, hidden 16, 6 steps (534 parameters)."""
    return LatentNCA(**kwargs)
