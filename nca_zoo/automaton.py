"""The one rollout loop every task in nca_zoo shares.

An :class:`Automaton` applies a *cell* (the transition function) to a state tensor again and
again.  The cell contract (:mod:`nca_zoo.cells.base`): ``cell(state, cond=None) -> update`` for
the channels it may change, i.e. ``state[:, fixed_channels:]``; the automaton does
``state += mask * update``.  A cell that also wants the NCA step index (the diffusion cell embeds
it) sets the class attribute ``takes_step = True`` and is then called as
``cell(state, cond, step=t)``.

What lives here and nowhere else:

* step count: an ``int`` or a ``[low, high]`` range (inclusive) sampled once per rollout;
* ``update_rate``: probability that a cell updates in a step (1.0 = synchronous).  Paper mapping:
  GNCA "fire rate 0" -> 1.0, Growing NCA ``fire_rate=0.5`` -> 0.5, ViTCA/LNCA ``floor(U + 0.5)``
  -> 0.5, Diff-NCA ``U > 0.5`` -> 0.5;
* the optional alive mask of Mordvintsev et al. (2020): a cell lives if the max of the alive
  channel over its 3x3 neighbourhood exceeds a threshold, before *and* after the update;
* an optional ``region`` mask that restricts updates (inpainting, super-resolution);
* checkpointed BPTT: segments of ``checkpoint_every`` steps run under
  ``torch.utils.checkpoint`` (non-reentrant, RNG state preserved so that recomputation draws the
  very same update masks) -- gradients equal to plain BPTT;
* an optional per-step loss accumulated inside the (checkpointed) segments, for losses that
  average over all steps (GNCA Eq. 2).
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from .cells.base import takes_step

Steps = Union[int, Sequence[int]]
StepLoss = Callable[[Tensor, int], Tensor]


def validate_steps(steps: Steps) -> Steps:
    """Check an ``int`` or ``[low, high]`` step specification; return it normalised."""
    if isinstance(steps, int):
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        return steps
    steps = [int(s) for s in steps]
    if len(steps) != 2 or not 1 <= steps[0] <= steps[1]:
        raise ValueError(f"steps must be an int or [low, high] with 1 <= low <= high, got {steps}")
    return steps


def sample_steps(steps: Steps, generator: Optional[torch.Generator] = None) -> int:
    """Draw a step count: ``steps`` itself if an int, else uniform in ``[low, high]`` inclusive."""
    if isinstance(steps, int):
        return steps
    low, high = steps
    return int(torch.randint(low, high + 1, (1,), generator=generator).item())


def alive_mask(state: Tensor, channel: int, threshold: float) -> Tensor:
    """Mordvintsev et al. (2020): alive where the 3x3 max of the alive channel > threshold."""
    return F.max_pool2d(state[:, channel : channel + 1], 3, stride=1, padding=1) > threshold


class Automaton(nn.Module):
    """Rollout of any cell.  See the module docstring for the contract.

    Args:
        cell: the transition function ``cell(state, cond) -> update``.
        steps: default step count for training, int or ``[low, high]``.
        eval_steps: step count used when ``self.training`` is False (defaults to ``steps``,
            the upper end if it is a range).
        update_rate: probability that a cell updates at a step (1.0 = synchronous).
        fixed_channels: the leading channels the cell never writes (e.g. ViTCA's input image).
        alive_channel: channel index for the alive mask, ``None`` to disable it.
        alive_threshold: threshold of the alive mask.
        checkpoint_every: run BPTT through checkpointed segments of this many steps
            (0 = plain BPTT).  A runtime switch: it changes memory, never gradients.
    """

    def __init__(
        self,
        cell: nn.Module,
        *,
        steps: Steps = 64,
        eval_steps: Optional[int] = None,
        update_rate: float = 1.0,
        fixed_channels: int = 0,
        alive_channel: Optional[int] = None,
        alive_threshold: float = 0.1,
        checkpoint_every: int = 0,
    ) -> None:
        super().__init__()
        if not 0.0 < update_rate <= 1.0:
            raise ValueError(f"update_rate must be in (0, 1], got {update_rate}")
        if checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0, got {checkpoint_every}")
        self.cell = cell
        self.steps = validate_steps(steps)
        self.eval_steps = eval_steps
        self.update_rate = float(update_rate)
        self.fixed_channels = int(fixed_channels)
        self.alive_channel = alive_channel
        self.alive_threshold = float(alive_threshold)
        self.checkpoint_every = int(checkpoint_every)

    # ------------------------------------------------------------------ one step
    def step(self, state: Tensor, t: int, cond=None, region: Optional[Tensor] = None) -> Tensor:
        """One transition ``s <- s + mask * cell(s)`` on the writable channels."""
        pre_alive = None
        if self.alive_channel is not None:
            pre_alive = alive_mask(state, self.alive_channel, self.alive_threshold)
        if takes_step(self.cell):
            update = self.cell(state, cond, step=t)
        else:
            update = self.cell(state, cond)
        mask = None
        if self.update_rate < 1.0:
            b, _, h, w = state.shape
            mask = (torch.rand(b, 1, h, w, device=state.device) < self.update_rate).to(update.dtype)
        if region is not None:
            mask = region.to(update.dtype) if mask is None else mask * region.to(update.dtype)
        if mask is not None:
            update = update * mask
        k = self.fixed_channels
        state = state + update if k == 0 else torch.cat([state[:, :k], state[:, k:] + update], 1)
        if pre_alive is not None:
            alive = pre_alive & alive_mask(state, self.alive_channel, self.alive_threshold)
            state = state * alive.to(state.dtype)
        return state

    def _segment(self, state, t0: int, n: int, cond, region, step_loss):
        loss = state.new_zeros(())
        for t in range(t0, t0 + n):
            state = self.step(state, t, cond, region)
            if step_loss is not None:
                loss = loss + step_loss(state, t)
        return state, loss

    # ------------------------------------------------------------------ rollout
    def num_steps(self, steps: Optional[Steps] = None) -> int:
        """The step count a rollout will use now (samples if a range is configured)."""
        if steps is None:
            if not self.training and self.eval_steps is not None:
                return int(self.eval_steps)
            steps = self.steps if self.training else (
                self.steps if isinstance(self.steps, int) else self.steps[1])
        return sample_steps(validate_steps(steps))

    def rollout(
        self,
        state: Tensor,
        steps: Optional[Steps] = None,
        cond=None,
        *,
        region: Optional[Tensor] = None,
        step_loss: Optional[StepLoss] = None,
        start_step: int = 0,
    ) -> tuple[Tensor, Tensor]:
        """Run the automaton; return ``(final_state, sum_t step_loss(state_t, t))``.

        ``step_loss`` is evaluated after every step (inside the checkpointed segment, so it does
        not keep the per-step states alive).  Without it the returned loss is 0.
        """
        n = self.num_steps(steps)
        use_ckpt = self.checkpoint_every > 0 and torch.is_grad_enabled()
        seg = self.checkpoint_every if use_ckpt else n
        total = state.new_zeros(())
        t = start_step
        while t < start_step + n:
            k = min(seg, start_step + n - t)
            if use_ckpt:
                state, loss = checkpoint(
                    self._segment, state, t, k, cond, region, step_loss,
                    use_reentrant=False, preserve_rng_state=True,
                )
            else:
                state, loss = self._segment(state, t, k, cond, region, step_loss)
            total = total + loss
            t += k
        return state, total

    @torch.no_grad()
    def snapshots(self, state: Tensor, at: Sequence[int], cond=None,
                  region: Optional[Tensor] = None) -> list[Tensor]:
        """States after each step count in ``at`` (ascending, 0 = the input): growth strips."""
        at = [int(a) for a in at]
        if any(a < 0 for a in at) or at != sorted(at):
            raise ValueError(f"snapshot steps must be ascending and >= 0, got {at}")
        out, t = [], 0
        for a in at:
            if a > t:
                state = self.rollout(state, a - t, cond, region=region, start_step=t)[0]
                t = a
            out.append(state)
        return out

    def forward(self, state: Tensor, steps: Optional[Steps] = None, cond=None,
                region: Optional[Tensor] = None) -> Tensor:
        """Rollout returning only the final state."""
        return self.rollout(state, steps, cond, region=region)[0]


def normalize_gradients(module: nn.Module, eps: float = 1e-8, leading_dims: int = 0) -> None:
    """Per-parameter gradient normalisation ``g <- g / (||g|| + eps)`` (Mordvintsev et al. 2020).

    ``leading_dims`` keeps that many leading axes separate: a bank of per-patch NCAs stores its
    weights as ``(num_models, ...)`` and normalises each model's gradient on its own.
    """
    for p in module.parameters():
        if p.grad is None:
            continue
        if leading_dims == 0:
            p.grad.div_(p.grad.norm() + eps)
        else:
            flat = p.grad.flatten(leading_dims)
            norm = flat.norm(dim=-1).reshape(*flat.shape[:-1], *([1] * (p.dim() - leading_dims)))
            p.grad.div_(norm + eps)
