"""Meta-training a GNCA prior with Reptile (Nichol et al. 2018) as a LightningModule.

Every meta-step: the prior (one Sobel-MLP NCA) is copied into a bank with one model per patch of
the batch, the bank adapts for ``inner_steps`` iterations of the compression recipe (all patches
at once, :func:`~nca_zoo.compression.prior.adapt`), and one SGD step of size ``outer_lr`` on
:func:`~nca_zoo.compression.prior.reptile_loss` moves the prior towards the mean of the adapted
weights.  ``outer_lr`` is annealed linearly to 0 over ``max_steps`` (Nichol et al.).

DDP: every rank adapts its own crops (Lightning's distributed sampler); DDP averages the Reptile
gradient over ranks, so the update uses the mean over all ranks' patches: 2 ranks of ``B``
patches are one process with ``2B`` patches.  The prior is the only module DDP sees; the inner
bank is built afresh in each step and never registered.
"""
from __future__ import annotations

from typing import Optional

import torch

from ..compression.prior import adapt, bank_like, quantized_psnr, recycle_dormant, reptile_loss
from ..models.gnca import GNCA
from .base import BaseTask


class GNCAPrior(BaseTask):
    """Reptile meta-training of one GNCA NCA on :class:`~nca_zoo.data.PriorPatchDataModule`.

    Args:
        model: registered variant (``gnca_small`` / ``gnca_medium`` / ``gnca_large``).
        steps: growth steps from the seed (as in compression: 1.2 x the patch side).
        inner_steps: Adam iterations of the inner loop (per patch, all patches at once).
        inner_lr: inner Adam learning rate (compress's from random weights: 1e-2; the shipped
            small / medium / large priors meta-train at 5e-3 / 3e-3 / 5e-3, near the lr they
            are then fitted at, which measured better: docs/gnca-prior.md).
        outer_lr: Reptile step size ``eps`` (1.0: the prior jumps to the mean adapted weights).
        anneal: anneal ``outer_lr`` linearly to 0 over ``max_steps``.
        normalize_gradients: per-model ``g / ||g||`` in the inner loop, as compress does.
        val_inner_steps: inner iterations on the validation crops (default: ``inner_steps``).
        recycle_every: every this many meta-steps, re-initialise the prior's dormant hidden
            units (ReDo, :func:`~nca_zoo.compression.prior.recycle_dormant`); 0: never.
        recycle_threshold: a unit is dormant when its normalised activity is ``<=`` this.
        patch_size: filled from the datamodule; stored so checkpoints reload.
    """

    def __init__(self, model: str = "gnca_medium", steps: int = 48, inner_steps: int = 10,
                 inner_lr: float = 1e-2, outer_lr: float = 1.0, anneal: bool = True,
                 normalize_gradients: bool = True, val_inner_steps: Optional[int] = None,
                 recycle_every: int = 0, recycle_threshold: float = 0.0,
                 patch_size: int = 40) -> None:
        super().__init__()
        if min(steps, inner_steps, patch_size) < 1 or (val_inner_steps or 1) < 1:
            raise ValueError("steps, inner_steps, val_inner_steps and patch_size must be >= 1")
        if not (inner_lr > 0 and outer_lr > 0):
            raise ValueError(f"inner_lr and outer_lr must be > 0, got {inner_lr}, {outer_lr}")
        if recycle_every < 0 or recycle_threshold < 0:
            raise ValueError(f"recycle_every and recycle_threshold must be >= 0, got "
                             f"{recycle_every}, {recycle_threshold}")
        self.save_hyperparameters()
        self.prior: GNCA = self.build_model(model, num_models=1, patch_size=patch_size,
                                            steps=steps)
        self.register_buffer("val_targets", torch.empty(0), persistent=False)

    def setup(self, stage: str) -> None:
        """Take the patch size and the validation crops from the datamodule."""
        dm = self.datamodule
        if dm is None or not hasattr(dm, "val_targets"):
            return
        self.hparams.patch_size = self.prior.patch_size = dm.patch_size
        self.val_targets = dm.val_targets.to(self.device)

    def configure_optimizers(self):
        """SGD on the Reptile loss (= the Reptile update), step size annealed linearly to 0."""
        opt = torch.optim.SGD(self.prior.parameters(), lr=self.hparams.outer_lr)
        total = self.max_steps
        if not self.hparams.anneal or total is None:
            return opt
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: max(0.0, 1.0 - t / total))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def _adapted(self, targets: torch.Tensor, iterations: int):
        h = self.hparams
        bank = bank_like(self.prior, len(targets), targets.shape[-1], h.steps)
        losses = adapt(bank, targets.float(), iterations, h.inner_lr, h.steps,
                       h.normalize_gradients)
        return bank, losses

    def training_step(self, batch, batch_idx):
        """Adapt a bank of copies of the prior to this rank's crops; return the Reptile loss."""
        bank, losses = self._adapted(batch, self.hparams.inner_steps)
        self.log("train/inner_loss_first", losses[0], prog_bar=True)
        self.log("train/inner_loss_last", losses[-1], prog_bar=True)
        return reptile_loss(self.prior, bank)

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        """Every ``recycle_every`` meta-steps, recycle the prior's dormant units (ReDo).

        The fresh weights are drawn from a generator seeded by the step, so every DDP rank draws
        the same and the replicas stay identical.
        """
        h = self.hparams
        if not h.recycle_every or self.global_step % h.recycle_every:
            return
        gen = torch.Generator().manual_seed(int(self.global_step))
        recycled = recycle_dormant(self.prior, h.recycle_threshold, h.steps, generator=gen)
        self.log("train/recycled_units", recycled.float().sum())

    def validation_step(self, batch, batch_idx):
        """Fit the fixed validation crops from the prior; loss and 8-bit PSNR after adapting."""
        h = self.hparams
        with torch.inference_mode(False):
            targets = self.val_targets.clone()
            bank, losses = self._adapted(targets, h.val_inner_steps or h.inner_steps)
            psnr = quantized_psnr(bank.eval(), targets, h.steps).mean()
        self.log("val/loss_first", losses[0], sync_dist=True)
        self.log("val/loss", losses[-1], sync_dist=True)
        self.log("val/psnr", psnr.item(), prog_bar=True, sync_dist=True)
