"""DDPM training of Diff-NCA, FourierDiff-NCA or the UNet baseline (Diff-NCA paper §3, App. E.1).

* ε-prediction with a linear β schedule (T = 300, authors' code), loss L1 + L2 on ε (§3.2);
* Adam, lr 1.6e-3, betas (0.9, 0.99), eps 1e-8; ``ExponentialLR`` γ = 0.9999 stepped every batch
  (as the authors' code does);
* EMA of the weights, decay 0.99, updated every batch (timm ``ModelEmaV3``); validation, test,
  sample grids and the sampling CLI use the EMA weights;
* checkpointed BPTT through the NCA steps via the Automaton's ``checkpoint_every``;
* at every validation: a grid of samples written as PNG under ``<log_dir>/samples/`` and sent to
  every logger that has ``log_image`` (W&B).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F
from timm.utils import ModelEmaV3
from torch import Tensor

from ..diffusion.sampling import sample
from ..layers.settings import regroup
from .base import BaseTask
from .diffusion_settings import NoiseSchedule, Sampling


class DiffusionTask(BaseTask):
    """Train a noise predictor ``model(x_t, t / T) -> eps``.

    Args:
        model: registered name (``fourierdiff_nca``, ``diff_nca``, ``unet_s``, ...).
        model_args: constructor overrides (e.g. ``{channels: 16, hidden: 32, norm: cell}``).
        schedule: the DDPM schedule (:class:`~nca_zoo.tasks.diffusion_settings.NoiseSchedule`,
            a mapping in YAML).
        lr, adam_betas, adam_eps, lr_gamma: optimiser (App. E.1); ``lr_gamma`` per step.
        ema_decay: EMA of the weights (0.99); 0 disables the EMA.
        checkpoint_every: checkpointed BPTT segment length of the NCA rollouts (0 = plain).
        sampling: the validation sample grid and the checkpoint's sampler
            (:class:`~nca_zoo.tasks.diffusion_settings.Sampling`, a mapping in YAML).
    """

    def __init__(self, model: str = "fourierdiff_nca", model_args: Optional[dict] = None,
                 schedule: Optional[NoiseSchedule] = None, lr: float = 1.6e-3,
                 adam_betas: Sequence[float] = (0.9, 0.99), adam_eps: float = 1e-8,
                 lr_gamma: float = 0.9999, ema_decay: float = 0.99, checkpoint_every: int = 0,
                 sampling: Optional[Sampling] = None) -> None:
        super().__init__()
        if not 0 <= ema_decay < 1 or not 0 < lr_gamma <= 1:
            raise ValueError("ema_decay must be in [0, 1) and lr_gamma in (0, 1]")
        self.save_hyperparameters()
        self.sampling = self.settings("sampling", Sampling, sampling)
        fixed = {"checkpoint_every": checkpoint_every} if checkpoint_every else {}
        self.model = self.build_model(model, {**(model_args or {}), **fixed})
        self.schedule = self.settings("schedule", NoiseSchedule, schedule).build()
        self.ema = ModelEmaV3(self.model, decay=ema_decay) if ema_decay > 0 else None
        if self.ema is not None:  # a copy updated by averaging, never by gradients (and so not
            self.ema.requires_grad_(False)  # a parameter DDP would wait for)

    @classmethod
    def upgrade_hyperparameters(cls, hp: dict[str, Any]) -> dict[str, Any]:
        """Checkpoints written before the schedule and sampling settings were grouped."""
        hp = regroup(hp, "schedule", NoiseSchedule.__dataclass_fields__)
        return regroup(hp, "sampling", Sampling.__dataclass_fields__)

    @property
    def sample_size(self) -> Optional[tuple[int, int]]:
        """The size the checkpoint samples at (the training data's unless ``sampling`` says)."""
        size = self.sampling.sample_size
        return tuple(size) if size else None

    @property
    def eval_model(self) -> torch.nn.Module:
        """The weights used for evaluation and sampling: the EMA if there is one."""
        return self.ema.module if self.ema is not None else self.model

    # ------------------------------------------------------------------ training
    def diffusion_loss(self, model, images: Tensor,
                       generator: Optional[torch.Generator] = None) -> Tensor:
        """L1 + L2 between the true and predicted noise at random timesteps (§3.2)."""
        x0 = images * 2 - 1
        b = x0.shape[0]
        t = torch.randint(0, self.schedule.timesteps, (b,), generator=generator,
                          device="cpu" if generator is not None else x0.device).to(x0.device)
        noise = torch.randn(x0.shape, generator=generator,
                            device="cpu" if generator is not None else x0.device).to(x0.device)
        eps = model(self.schedule.q_sample(x0, t, noise), self.schedule.t_frac(t))
        return F.mse_loss(eps, noise) + F.l1_loss(eps, noise)

    def training_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        """Diffusion loss of the trained weights on a batch of images in [0, 1]."""
        loss = self.diffusion_loss(self.model, batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        """Update the EMA of the weights after every batch."""
        if self.ema is not None:
            self.ema.update(self.model)

    def configure_optimizers(self):
        """Adam with ``ExponentialLR`` (``lr_gamma``) stepped every batch (App. E.1)."""
        h = self.hparams
        opt = torch.optim.Adam(self.model.parameters(), lr=h.lr, betas=tuple(h.adam_betas),
                               eps=h.adam_eps)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=h.lr_gamma)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # ------------------------------------------------------------------ evaluation
    def _eval_loss(self, batch: Tensor, batch_idx: int) -> Tensor:
        g = torch.Generator().manual_seed(batch_idx)      # same t and noise at every validation
        return self.diffusion_loss(self.eval_model, batch, generator=g)

    def validation_step(self, batch: Tensor, batch_idx: int) -> None:
        """Log the diffusion loss of :attr:`eval_model` (noise seeded by ``batch_idx``)."""
        self.log("val/loss", self._eval_loss(batch, batch_idx), prog_bar=True, sync_dist=True,
                 batch_size=len(batch))

    def test_step(self, batch: Tensor, batch_idx: int) -> None:
        """Log the diffusion loss of :attr:`eval_model` (noise seeded by ``batch_idx``)."""
        self.log("test/loss", self._eval_loss(batch, batch_idx), batch_size=len(batch),
                 sync_dist=True)

    @torch.no_grad()
    def generate(self, n: int, height: int, width: int, sampler: Optional[str] = None,
                 steps: Optional[int] = None,
                 generator: Optional[torch.Generator] = None) -> Tensor:
        """``n`` samples in [0, 1] from the EMA weights (the task's sampler unless one is named).

        ``steps`` defaults to ``sampler_steps`` for the task's own sampler and to the named
        sampler's default otherwise.
        """
        model = self.eval_model.eval()
        own = sampler is None or sampler == self.sampling.sampler
        sampler = sampler or self.sampling.sampler
        if steps is None and own:
            steps = self.sampling.sampler_steps
        return sample(model, self.schedule, n, height, width, sampler, steps,
                      generator=generator, device=self.device)

    def on_fit_start(self) -> None:
        """Remember the data's image size as ``sample_size`` (for sampling from the checkpoint)."""
        super().on_fit_start()
        if self.sampling.sample_size is None:     # remembered in the checkpoint for sampling
            self.sampling.sample_size = list(self._data_size())
            self.hparams.sampling["sample_size"] = self.sampling.sample_size

    def on_validation_epoch_end(self) -> None:
        """Sample a grid of ``n_samples`` images; save it as PNG and send it to the loggers."""
        n, size = self.sampling.n_samples, self.sample_size or self._data_size()
        self.write_sample_grid(n, lambda: self.generate(
            n, *size,
            generator=torch.Generator(self.device).manual_seed(0)
            if self.device.type == "cpu" else None))

    def _data_size(self) -> tuple[int, int]:
        s = getattr(self.datamodule, "size", 64)
        return (s, s)
