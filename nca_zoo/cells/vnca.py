"""The update rule of VNCA (Palm et al. 2022, §3, "Doubling CelebA"; official code rev. 641588a).

Every channel of the state is the latent: ``channels = z``, no fixed channels, no perception
filter.  Update: 3x3 conv ``z -> hidden`` (zero padding), ``n_blocks`` residual blocks
``x + 1x1(ELU(1x1(x)))`` of width ``hidden``, then a 1x1 conv ``hidden -> z`` whose weight and
bias start at zero (the state does not move before the first optimiser step).  Parameters:
``9 z h + h + n_blocks (2 h^2 + 2 h) + h z + z``; with z = h = 256 and 4 blocks, 1,182,208.
"""
from __future__ import annotations

from typing import Any, Optional

from torch import Tensor, nn


class ResidualBlock(nn.Module):
    """``x + conv1x1(ELU(conv1x1(x)))`` (the VNCA code's ``Residual``)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 1), nn.ELU(), nn.Conv2d(width, width, 1))

    def forward(self, x: Tensor) -> Tensor:
        """``x`` plus the block's residual."""
        return x + self.body(x)


class VNCACell(nn.Module):
    """VNCA's update network as a :class:`~nca_zoo.cells.base.Cell`; see the module docstring.

    Args:
        channels: state channels, the latent size ``z`` (256 in the CelebA code).
        hidden: width of the update network (256).
        n_blocks: residual 1x1 blocks (4).
    """

    def __init__(self, channels: int = 256, hidden: int = 256, n_blocks: int = 4) -> None:
        super().__init__()
        if channels < 1 or hidden < 1 or n_blocks < 0:
            raise ValueError(f"need channels >= 1, hidden >= 1, n_blocks >= 0; got "
                             f"{channels}, {hidden}, {n_blocks}")
        self.channels, self.hidden, self.n_blocks = channels, hidden, n_blocks
        self.net = nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1),
                                 *(ResidualBlock(hidden) for _ in range(n_blocks)),
                                 nn.Conv2d(hidden, channels, 1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, state: Tensor, cond: Optional[Any] = None) -> Tensor:
        """Update of every channel of ``state`` ``(B, channels, H, W)``; ``cond`` is unused."""
        return self.net(state)
