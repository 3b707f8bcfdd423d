"""Stop training at the first non-finite loss or gradient, before any weight changes.

Every task adds :class:`FiniteGuard` through ``BaseTask.configure_callbacks``.  A NaN/inf loss or
gradient ends the run with :class:`NonFiniteError`, one line naming the step and the last good
checkpoint to resume from; no checkpoint holding a non-finite weight is ever written.  Under DDP
the ranks agree on the decision first, so all stop together instead of one waiting forever.
"""
from __future__ import annotations

import math

import lightning as L
import torch
from torch import Tensor


class NonFiniteError(ValueError):
    """Training produced a NaN or infinite loss, gradient or weight; the message is one line."""


class FiniteGuard(L.Callback):
    """Check the loss before every backward and the gradients before every optimiser step."""

    def on_before_backward(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           loss: Tensor) -> None:
        """Stop when the loss about to be back-propagated is not finite (on any rank)."""
        bad = not bool(torch.isfinite(loss.detach()).all())
        if trainer.strategy.reduce_boolean_decision(bad, all=False):
            self._stop(trainer, f"non-finite loss ({float(loss.detach().float().sum()):g})")

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        """Stop when a gradient of the parameters about to be stepped is not finite."""
        grads = [p.grad for group in optimizer.param_groups for p in group["params"]
                 if p.grad is not None]
        if not grads:
            return
        norm = float(torch.stack(torch._foreach_norm(grads)).float().norm())
        if not math.isfinite(norm):  # gradients are already averaged over ranks here
            self._stop(trainer, f"non-finite gradient (norm {norm:g})")

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           checkpoint: dict) -> None:
        """Refuse to write a checkpoint that holds a non-finite weight."""
        for name, value in checkpoint.get("state_dict", {}).items():
            if torch.is_tensor(value) and value.is_floating_point() \
                    and not bool(torch.isfinite(value).all()):
                raise NonFiniteError(f"weight {name} is not finite at step {trainer.global_step}; "
                                     f"the checkpoint was not written")

    @staticmethod
    def _stop(trainer: L.Trainer, what: str) -> None:
        cb = trainer.checkpoint_callback
        last = (cb.last_model_path or cb.best_model_path) if cb is not None else ""
        resume = (f"resume from the last good checkpoint with --ckpt_path={last}" if last
                  else "no checkpoint was written yet, start again")
        raise NonFiniteError(f"{what} at step {trainer.global_step}; training stopped before "
                             f"the weights changed: {resume} (e.g. with a lower learning rate)")
