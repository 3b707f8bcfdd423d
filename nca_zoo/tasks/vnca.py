"""Training VNCA, the Diff-NCA paper's VAE baseline (Table 2; Palm et al. 2022, §3-4).

The official recipe (``rasmusbergpalm/vnca``, "Doubling CelebA", revision 641588a):

* loss: the negative ELBO with one draw of z per image, reconstruction summed over the pixels
  and colours, analytic KL; ``beta = 1`` (their β = 100 runs, revision 8d1ee6e, weight the KL by
  100); no free bits and no KL annealing (the official code has neither);
* Adam, lr 1e-4, default betas, no lr schedule; gradient norm clipped at 10 (the β = 100 revision
  clips at 1); batch 32; 100k updates; no EMA of the weights;
* evaluation: the importance-weighted bound (IWAE) on -log p(x), also as bits per dimension
  (``iwae_samples``: 1 in the doubling script, 128 in the later code's test).

At every validation a grid of samples from the prior is written as PNG under
``<log_dir>/samples/`` (rank 0 only) and sent to every logger with ``log_image`` (W&B), as the
DDPM task does.  :func:`load_vnca` reads a checkpoint (or a pretrained folder) back as the model.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from .._pretrained import load_pretrained
from ..models.vnca import VNCA
from .base import BaseTask


class VNCATask(BaseTask):
    """Train a VNCA on images in [0, 1] by maximising the ELBO; see the module docstring.

    Args:
        model: registered name (``vnca``).
        model_args: constructor overrides (e.g. ``{z_size: 12, hidden: 16, doublings: 3}``).
        beta: weight of the KL term (1 = the ELBO).
        lr: Adam learning rate (1e-4).
        grad_clip: gradient-norm clipping threshold (10); 0 disables it.
        checkpoint_every: checkpointed BPTT segment length (0 = the model's default, every step).
        n_samples: images in the validation sample grid (0 = none).
        iwae_samples: importance samples of the test bound (1 = the ELBO).
    """

    def __init__(self, model: str = "vnca", model_args: Optional[dict] = None, beta: float = 1.0,
                 lr: float = 1e-4, grad_clip: float = 10.0, checkpoint_every: int = 0,
                 n_samples: int = 16, iwae_samples: int = 1) -> None:
        super().__init__()
        if beta < 0 or lr <= 0 or grad_clip < 0 or iwae_samples < 1 or n_samples < 0:
            raise ValueError("need beta >= 0, lr > 0, grad_clip >= 0, iwae_samples >= 1, "
                             "n_samples >= 0")
        self.save_hyperparameters()
        fixed = {"checkpoint_every": checkpoint_every} if checkpoint_every else {}
        self.model = self.build_model(model, {**(model_args or {}), **fixed})
        if not isinstance(self.model, VNCA):
            raise ValueError(f"model {model!r} is not a VNCA")

    # ------------------------------------------------------------------ training
    def training_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        """Negative ELBO (nats per image) of a batch of images in [0, 1]."""
        out = self.model.elbo(batch, beta=self.hparams.beta)
        n = len(batch)
        self.log("train/loss", out.loss, prog_bar=True, batch_size=n)
        self.log("train/recon", out.recon, batch_size=n)
        self.log("train/kl", out.kl, batch_size=n)
        self.log("train/bpd", self.model.bits_per_dim(out.recon + out.kl), batch_size=n)
        return out.loss

    def configure_optimizers(self):
        """Adam (lr 1e-4, default betas), as the official code."""
        return torch.optim.Adam(self.model.parameters(), lr=self.hparams.lr)

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None,
                                    gradient_clip_algorithm=None) -> None:
        """Clip the gradient norm at ``grad_clip`` (the official 10), whatever the Trainer says."""
        clip = gradient_clip_val if gradient_clip_val else self.hparams.grad_clip
        if clip:
            self.clip_gradients(optimizer, gradient_clip_val=clip,
                                gradient_clip_algorithm=gradient_clip_algorithm or "norm")

    # ------------------------------------------------------------------ evaluation
    def _bound(self, batch: Tensor, batch_idx: int, k: int) -> Tensor:
        g = torch.Generator(batch.device).manual_seed(batch_idx)  # same z at every validation
        return self.model.iwae(batch, k, generator=g).mean()

    def validation_step(self, batch: Tensor, batch_idx: int) -> None:
        """Log the negative ELBO (z seeded by ``batch_idx``) and its bits per dimension."""
        loss = self._bound(batch, batch_idx, 1)
        self.log("val/loss", loss, prog_bar=True, sync_dist=True, batch_size=len(batch))
        self.log("val/bpd", self.model.bits_per_dim(loss), sync_dist=True, batch_size=len(batch))

    def test_step(self, batch: Tensor, batch_idx: int) -> None:
        """Log the IWAE bound with ``iwae_samples`` samples and its bits per dimension."""
        loss = self._bound(batch, batch_idx, self.hparams.iwae_samples)
        self.log("test/loss", loss, sync_dist=True, batch_size=len(batch))
        self.log("test/bpd", self.model.bits_per_dim(loss), sync_dist=True, batch_size=len(batch))

    @torch.no_grad()
    def generate(self, n: int, generator: Optional[torch.Generator] = None,
                 pixels: str = "sample") -> Tensor:
        """``n`` samples ``(n, 3, S, S)`` in [0, 1] from the prior (see :meth:`VNCA.sample`)."""
        return self.model.eval().sample(n, generator=generator, pixels=pixels)

    def on_fit_start(self) -> None:
        """Refuse data whose image size is not the model's (one line, before any step)."""
        super().on_fit_start()
        size = getattr(self.datamodule, "size", None)
        if size is not None and int(size) != self.model.image_size:
            raise ValueError(f"the data has {size}x{size} images but this VNCA grows "
                             f"{self.model.image_size}x{self.model.image_size} "
                             f"(doublings={self.model.doublings})")

    def on_validation_epoch_end(self) -> None:
        """Sample a grid of ``n_samples`` images; save it as PNG and send it to the loggers."""
        was_training = self.model.training
        n = self.hparams.n_samples
        self.write_sample_grid(n, lambda: self.generate(
            n, generator=torch.Generator(self.device).manual_seed(0)))
        self.model.train(was_training)


def load_vnca(source: str, map_location: str = "cpu") -> VNCA:
    """A VNCA in eval mode from a :class:`VNCATask` checkpoint (``.ckpt``) or a pretrained folder.

    ``source`` is a checkpoint file written by ``nca-zoo fit`` with a VNCA config, or anything
    :func:`~nca_zoo.load_pretrained` takes.  Bad files are one-line ValueErrors.
    """
    p = Path(source)
    if not p.is_file():
        model = load_pretrained(source, map_location)
        if not isinstance(model, VNCA):
            raise ValueError(f"pretrained module {source!r} is not a VNCA")
        return model
    return VNCATask.from_checkpoint_file(p, "beta", map_location).model

