"""Sample pool (Mordvintsev et al. 2020, "persistent" training; ViTCA / LNCA pools).

One reusable buffer of states saved in Lightning checkpoints (it is a persistent buffer of the
module that owns it).  Policies differ per paper, so the pool only offers the primitives:
``sample`` indices, ``read`` them, ``write`` states back.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn


class SamplePool(nn.Module):
    """A fixed-size pool of tensors of shape ``item_shape``, filled lazily by ``fill``."""

    def __init__(self, size: int, item_shape: tuple[int, ...]) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"pool size must be >= 1, got {size}")
        self.size = int(size)
        self.register_buffer("states", torch.zeros(size, *item_shape))
        self.register_buffer("filled", torch.zeros((), dtype=torch.bool))

    def fill(self, item: Tensor) -> None:
        """Set every slot to ``item`` (e.g. the seed state) and mark the pool as filled."""
        self.states.copy_(item.detach().expand_as(self.states))
        self.filled.fill_(True)

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """``n`` distinct random slot indices."""
        if n > self.size:
            raise ValueError(f"cannot sample {n} items from a pool of {self.size}")
        return torch.randperm(self.size, generator=generator)[:n].to(self.states.device)

    def read(self, idx: Tensor) -> Tensor:
        return self.states[idx].clone()

    def write(self, idx: Tensor, states: Tensor) -> None:
        self.states[idx] = states.detach().to(self.states.dtype)
