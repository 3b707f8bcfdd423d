"""Rate-distortion fitting of the latent-seeded NCA codec (``--codec latent``).

For ``N`` images of one size the task holds each image's latent grids (zeros at the start, as in
Cool-chic) and one entropy-model scale per level, and optionally trains the shared rule
(:class:`~nca_zoo.models.latent_nca.LatentNCA`).  Loss per image (Ballé et al. 2017; Cool-chic)::

    D + lambda * R,   D = MSE(decoded, image) on [0, 1],   R = bits of the latents / pixels

Quantisation during training: additive uniform noise ``y + U(-1/2, 1/2)`` for the first
``hard_from`` of the iterations, then straight-through rounding (the decoder sees exactly the
integers the file will hold); the learning rates follow a cosine decay.  One image with the rule
frozen at the shipped prior is ``compress --codec latent``; many crops with the rule trained is
how the prior is made (``configs/gnca/latent_prior.yaml``).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..compression.latent_entropy import laplace_bits
from ..models.latent_nca import LatentNCA
from .base import BaseTask


def quantize_latent(latent: Tensor, hard: bool) -> Tensor:
    """Training-time quantisation: straight-through rounding, or additive uniform noise."""
    if hard:
        return latent + (latent.round() - latent).detach()
    return latent + torch.rand_like(latent) - 0.5


class LatentCodecFit(BaseTask):
    """Fit the latents (and optionally the rule) of a batch of images on ``D + lambda R``.

    Args:
        lam: the rate-distortion trade-off lambda (MSE on [0, 1] per bit per pixel): larger
            gives smaller files.
        rule: :class:`LatentNCA` constructor arguments (levels, channels, hidden, steps,
            checkpoint_every); ignored when ``prior`` is given.
        prior: a shipped rule's name or folder (:func:`~nca_zoo.compression.latent_prior.load_rule`)
            to start from; None starts from a random rule.
        train_rule: fit the rule too (its bytes then go into the file); False keeps the prior's.
        lr: Adam learning rate of the latents and the entropy scales; ``rule_lr``: of the rule.
        hard_from: fraction of the iterations after which latents are rounded (straight through).
        num_images, height, width: the image batch's shape, taken from the datamodule
            (stored so a checkpoint rebuilds the latents).
    """

    def __init__(self, lam: float = 1e-3, rule: Optional[dict] = None, prior: Optional[str] = None,
                 train_rule: bool = False, lr: float = 3e-2, rule_lr: float = 5e-3,
                 hard_from: float = 0.8, num_images: int = 1, height: int = 0,
                 width: int = 0) -> None:
        super().__init__()
        if not lam > 0 or not (lr > 0 and rule_lr > 0) or not 0 <= hard_from <= 1:
            raise ValueError(f"need lam > 0, lr > 0, rule_lr > 0 and hard_from in [0, 1]; got "
                             f"{lam}, {lr}, {rule_lr}, {hard_from}")
        self.save_hyperparameters()
        #: the current lambda (a driver's rate control may change it between fits)
        self.register_buffer("lam", torch.tensor(float(lam)))
        if prior is not None:
            from ..compression.latent_prior import load_rule

            self.rule = load_rule(prior)
        else:
            self.rule = LatentNCA(**(rule or {}))
        self.rule.requires_grad_(train_rule)
        self.log_scale = nn.Parameter(torch.zeros(self.rule.levels))
        self.latents = nn.ParameterList()
        if height and width:
            self._make_latents(num_images, height, width)

    def _make_latents(self, n: int, height: int, width: int) -> None:
        self.hparams.update(num_images=n, height=height, width=width)
        self.latents = nn.ParameterList(
            nn.Parameter(torch.zeros(n, 1, h, w, device=self.log_scale.device))
            for h, w in self.rule.latent_shapes(height, width))

    def setup(self, stage: str) -> None:
        """Create the latents for the datamodule's images (unless a checkpoint already has)."""
        dm = self.datamodule
        images = getattr(dm, "images", None)
        if images is not None and len(self.latents) == 0:
            self._make_latents(images.shape[0], images.shape[-2], images.shape[-1])

    @property
    def hard(self) -> bool:
        """True once training rounds the latents (after ``hard_from`` of ``max_steps``)."""
        total = self.max_steps
        return not self.training or (total is not None
                                     and self.global_step >= self.hparams.hard_from * total)

    def integer_latents(self) -> list[Tensor]:
        """The latents as the file stores them: rounded to integers."""
        return [y.detach().round() for y in self.latents]

    def rate_distortion(self, images: Tensor, hard: bool) -> dict[str, Tensor]:
        """``mse``, ``bpp`` (latents only) and ``loss = mse + lambda * bpp``, batch means."""
        n, _, h, w = images.shape
        ys = [quantize_latent(y, hard) for y in self.latents]
        decoded = self.rule(ys, h, w)
        mse = F.mse_loss(decoded, images)
        bits = sum(laplace_bits(y, s) for y, s in zip(ys, self.log_scale))
        bpp = bits / (n * h * w)
        return {"mse": mse, "bpp": bpp, "loss": mse + self.lam.clone() * bpp}

    def training_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        """One rate-distortion step on the whole image batch."""
        out = self.rate_distortion(batch, self.hard)
        self.log_dict({f"train/{k}": v for k, v in out.items()} | {"train/lambda": self.lam},
                      prog_bar=True)
        return out["loss"]

    def configure_optimizers(self):
        """Adam (latents and entropy scales at ``lr``, the rule at ``rule_lr``), cosine decay."""
        groups = [{"params": [*self.latents, self.log_scale], "lr": self.hparams.lr}]
        if self.hparams.train_rule:
            groups.append({"params": list(self.rule.parameters()), "lr": self.hparams.rule_lr})
        opt = torch.optim.Adam(groups)
        if self.max_steps is None:
            return opt
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.max_steps, eta_min=0.0)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
