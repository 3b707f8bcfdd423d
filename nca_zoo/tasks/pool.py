"""Sample pool (Mordvintsev et al. 2020, "persistent" training; ViTCA / LNCA pools).

A fixed number of slots, one buffer per named tensor (e.g. the NCA state and its clean target),
saved in Lightning checkpoints with the module that owns the pool.  New entries are appended
until the pool is full, then they replace random slots (the ViTCA trainer's append + shuffle +
truncate); :meth:`SamplePool.sample` draws among the filled slots only.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor, nn


class SamplePool(nn.Module):
    """``size`` slots holding one tensor of each ``shapes[name]`` per slot.

    Args:
        size: number of slots.
        shapes: ``{name: item_shape}``; :meth:`read` and :meth:`write` take and return the
            tensors in this order.
    """

    def __init__(self, size: int, shapes: dict[str, Sequence[int]]) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"pool size must be >= 1, got {size}")
        if not shapes:
            raise ValueError("a pool needs at least one tensor shape")
        self.size, self.names = int(size), list(shapes)
        for name, shape in shapes.items():
            self.register_buffer(name, torch.zeros(size, *shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        """Number of filled slots."""
        return int(self.count)

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> Optional[Tensor]:
        """``n`` distinct filled slots, or None while fewer than ``n`` are filled."""
        if n > self.size:
            raise ValueError(f"cannot sample {n} items from a pool of {self.size}")
        if len(self) < n:
            return None
        return torch.randperm(len(self), generator=generator)[:n].to(self.count.device)

    def read(self, idx: Tensor) -> list[Tensor]:
        """Copies of the slots ``idx``, one tensor per name."""
        return [getattr(self, name)[idx].clone() for name in self.names]

    def write(self, tensors: Sequence[Tensor], idx: Optional[Tensor] = None) -> None:
        """Write back to the slots ``idx`` (a sampled batch), or add the batch as new entries."""
        if len(tensors) != len(self.names):
            raise ValueError(f"pool holds {self.names}, got {len(tensors)} tensors")
        n = tensors[0].shape[0]
        if idx is None:
            count = len(self)
            if count + n <= self.size:
                idx = torch.arange(count, count + n)
                self.count.fill_(count + n)
            else:
                idx = torch.randperm(self.size)[:n]
            idx = idx.to(self.count.device)
        for name, t in zip(self.names, tensors):
            buf = getattr(self, name)
            buf[idx] = t.detach().to(buf.dtype)
