"""GNCA: a grid of growing NCAs, one per image patch (GNCA paper, §3.3, Fig. 2).

:class:`GNCA` is a bank of ``num_models`` Sobel-MLP NCAs (one per patch) driven by the shared
:class:`~nca_zoo.automaton.Automaton`.  Every patch grows from a single seed pixel: a zero state
whose hidden channels are 1 at the patch centre (Mordvintsev et al. 2020).  The RGB read-out is
channels 0-2.  Variants ``gnca_small / gnca_medium / gnca_large`` follow Table 1.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor, nn

from .._registry import register_model
from ..automaton import Automaton, Steps
from ..cells.sobel_mlp import SobelMLPCell

#: Table 1 of the GNCA paper: name -> (n_c, h_s).  Parameters: h_s * (4 n_c + 1).
GNCA_SIZES = {"small": (14, 20), "medium": (16, 32), "large": (16, 40)}
#: Growth steps per pixel of patch side: a signal moves one cell per step (3x3 neighbourhood), so
#: it reaches the corners after side / 2 steps; 1.2 x side leaves time for the patch to settle.
STEPS_PER_PATCH_SIDE = 1.2
MIN_GROWTH_STEPS = 8


def default_growth_steps(patch_size: int) -> int:
    """Growth steps for a patch: ``1.2 x`` its side (at least 8)."""
    return max(MIN_GROWTH_STEPS, round(STEPS_PER_PATCH_SIDE * patch_size))


class GNCA(nn.Module):
    """A bank of growing Sobel-MLP NCAs, one per ``patch_size`` x ``patch_size`` patch.

    Args:
        channels: state channels ``n_c`` (3 RGB + hidden).
        hidden: hidden width ``h_s`` of the update MLP.
        num_models: patches in the bank (one NCA each).
        patch_size: side of a patch.
        steps: growth steps (int, or ``[low, high]`` for training).
        update_rate: probability a cell updates per step; the paper trains synchronously
            ("fire rate 0"), i.e. ``1.0``.
        checkpoint_every: checkpointed BPTT segment length (0 = plain BPTT).
    """

    def __init__(self, channels: int = 16, hidden: int = 32, num_models: int = 1,
                 patch_size: int = 40, steps: Steps = 48, update_rate: float = 1.0,
                 checkpoint_every: int = 0) -> None:
        super().__init__()
        if patch_size < 3:
            raise ValueError(f"patch_size must be >= 3, got {patch_size}")
        self.patch_size = int(patch_size)
        self.automaton = Automaton(SobelMLPCell(channels, hidden, num_models), steps=steps,
                                   update_rate=update_rate, checkpoint_every=checkpoint_every)

    @property
    def cell(self) -> SobelMLPCell:
        """The bank's cell (registered once, inside the automaton)."""
        return self.automaton.cell

    @property
    def num_models(self) -> int:
        """Number of models (patches) in the bank."""
        return self.cell.num_models

    @property
    def channels(self) -> int:
        """State channels ``n_c`` of each model (3 RGB + hidden)."""
        return self.cell.channels

    def seed(self, models: int, batch: int = 1) -> Tensor:
        """Seed bank states ``(batch, models * C, p, p)``.

        Zeros, with the hidden channels 1 at the centre.
        """
        p, c = self.patch_size, self.channels
        state = torch.zeros(batch, models, c, p, p, device=self.cell.w1.device)
        state[:, :, 3:, p // 2, p // 2] = 1.0
        return state.flatten(1, 2).contiguous(memory_format=torch.channels_last)

    def rgb(self, state: Tensor) -> Tensor:
        """RGB read-out of a bank state: ``(batch, models, 3, p, p)``, not clamped."""
        return state.unflatten(1, (-1, self.channels))[:, :, :3]

    def grow(self, models: Optional[Tensor] = None, batch: int = 1, steps: Optional[Steps] = None,
             step_loss=None) -> tuple[Tensor, Tensor]:
        """Grow the selected models (all if None) from their seeds.

        Returns ``(state, summed step loss)``.
        """
        m = self.num_models if models is None else len(models)
        return self.automaton.rollout(self.seed(m, batch), steps, cond=models, step_loss=step_loss)

    @torch.no_grad()
    def subset(self, start: int = 0, count: Optional[int] = None,
               transform: Optional[Callable[[Tensor], Tensor]] = None) -> "GNCA":
        """A new bank (eval mode) holding models ``[start, start + count)`` of this one.

        ``transform`` maps each weight tensor first (e.g. the 8-bit round trip of the ``.nca``
        file, which quantises each model on its own, so a subset quantises exactly as the whole).
        """
        count = self.num_models - start if count is None else count
        if start < 0 or count < 1 or start + count > self.num_models:
            raise ValueError(f"models [{start}, {start + count}) not in a bank of "
                             f"{self.num_models}")
        cell = self.cell
        copy = GNCA(cell.channels, cell.hidden, count, self.patch_size, self.automaton.steps)
        copy = copy.to(cell.w1.device)
        for name, p in cell.named_parameters():
            w = p[start : start + count]
            getattr(copy.cell, name).copy_(transform(w) if transform else w)
        return copy.eval()

    @torch.no_grad()
    def forward(self, steps: Optional[Steps] = None) -> Tensor:
        """Decode: every patch grown once; RGB in [0, 1], shape ``(num_models, 3, p, p)``."""
        state, _ = self.grow(steps=steps)
        return self.rgb(state)[0].clamp(0.0, 1.0)


def _gnca(size: str, **kwargs) -> GNCA:
    channels, hidden = GNCA_SIZES[size]
    return GNCA(**{"channels": channels, "hidden": hidden, **kwargs})


@register_model(num_params=1140, family="gnca",
                tiny=dict(num_models=2, patch_size=8, steps=4))
def gnca_small(**kwargs) -> GNCA:
    """GNCA-small (Table 1): n_c=14, h_s=20, 1140 parameters per patch."""
    return _gnca("small", **kwargs)


@register_model(num_params=2080, family="gnca",
                tiny=dict(num_models=2, patch_size=8, steps=4))
def gnca_medium(**kwargs) -> GNCA:
    """GNCA-medium (Table 1): n_c=16, h_s=32, 2080 parameters per patch."""
    return _gnca("medium", **kwargs)


@register_model(num_params=2600, family="gnca",
                tiny=dict(num_models=2, patch_size=8, steps=4))
def gnca_large(**kwargs) -> GNCA:
    """GNCA-large (Table 1): n_c=16, h_s=40, 2600 parameters per patch."""
    return _gnca("large", **kwargs)
