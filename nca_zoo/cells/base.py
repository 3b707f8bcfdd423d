"""The cell contract: what the :class:`~nca_zoo.automaton.Automaton` asks of a transition function.

A *cell* is an ``nn.Module`` that looks at the whole state and returns the update of the channels
it may change.  The automaton owns everything else -- step counts, the stochastic update mask,
the alive and region masks, checkpointed BPTT -- so a cell knows nothing about them::

    update = cell(state, cond)            # or cell(state, cond, step=t) if cell.takes_step
    state[:, fixed:] += mask * update     # done by the automaton, never by the cell

* ``state``: ``(B, channels, H, W)``; the first ``fixed_channels`` (ViTCA's input image, the
  diffusion models' noisy image) are read but never written.
* ``cond``: whatever the model passes through the rollout: None, the diffusion time ``t / T``
  per sample, or the indices of the models of a GNCA bank that the state holds.
* the return value: ``(B, channels - fixed_channels, H, W)``.

See ``docs/architecture.md`` for how the four cells plug into the three papers' models.
"""
from __future__ import annotations

from typing import Any, Optional, Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class Cell(Protocol):
    """Structural type of a cell (see the module docstring).

    Attributes:
        channels: state channels the cell reads (for a GNCA bank: per model).
        takes_step: class attribute, True when the cell also wants the NCA step index
            (``cell(state, cond, step=t)``; the diffusion cell embeds it).  Absent means False.
    """

    channels: int

    def __call__(self, state: Tensor, cond: Optional[Any] = None) -> Tensor:
        """Return the update of the writable channels of ``state``."""
        ...


def takes_step(cell: Any) -> bool:
    """True when ``cell`` is called with the NCA step index (``takes_step = True``)."""
    return bool(getattr(cell, "takes_step", False))

