"""Image restoration tasks of the LNCA paper (denoising / deblurring), one LightningModule each.

* :class:`SupervisedRestoration` -- NAFNet / Restormer baselines: one forward pass, L1 loss.
* :class:`ViTCARestoration` -- pixel-space ViTCA (the paper's NCA baseline, Tesfaldet et al.):
  state ``[input | output | hidden]``, sample pool (every 2nd iteration starts from pool states),
  8-32 steps in training, 64 in evaluation, update_rate 0.5, loss ``1e2 L1 + 1e2 overflow``.
* :class:`LNCARestoration` -- LNCA (§3.2): phase 1 trains the autoencoder with the NCA bypassed
  (two optimiser steps per batch: Eq. 3-5, then Eq. 6); phase 2 freezes it and trains the NCA
  (Eq. 7-9), one fresh and one pool step per batch.  ``phase="both"`` runs phase 1 for
  ``ae_epochs`` epochs, keeps the autoencoder with the best validation SSIM (or PSNR) in a file
  and loads it at the start of phase 2; ``phase="nca"`` starts from ``ae_checkpoint``.

All of them evaluate with the same metrics (torchmetrics PSNR / SSIM on [0, 1], plus the degraded
input's scores and the relative improvement, as the authors' REL_PSNR / REL_SSIM), and every NCA
task exposes checkpointed BPTT (``checkpoint_every``).  Batches are ``(clean, degraded)``.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

from ..automaton import normalize_gradients
from ..models.lnca import LATENT_DOWNSCALE
from .base import BaseTask
from .pool import SamplePool

PHASES = ("ae", "nca", "both")
#: validation scores phase 1 can keep its best autoencoder by (``val/ae_<name>``)
AE_MONITORS = ("ssim", "psnr")


@dataclass
class AutoencoderLoss:
    """Phase-1 loss weights of LNCA (§3.2.1).

    ``rec`` Eq. 3, ``dist`` Eq. 4 (triplet ``margin`` alpha), ``task`` Eq. 5, ``eq`` Eq. 6 with
    latent noise ``eq_noise_std``.
    """

    rec: float = 100.0
    dist: float = 10.0
    task: float = 10.0
    eq: float = 100.0
    margin: float = 1.0
    eq_noise_std: float = 0.5


@dataclass
class LatentNCALoss:
    """Phase-2 loss weights of LNCA (§3.2.2).

    ``rec`` Eq. 7, ``latent`` Eq. 8, ``overflow`` Eq. 9.  Eq. 9 keeps the hidden channels in
    [-1, 1] and the output channels in ``[output_low, output_high]``: [0, 1] in the paper and the
    authors' code, although the output channels must match the autoencoder's swish latent
    (Eq. 8), which leaves [0, 1] (minimum ``SWISH_MIN``, no upper bound).  Bounds of
    ``[SWISH_MIN, inf]`` (``output_low: -0.2785, output_high: .inf`` in YAML) stop Eq. 9 from
    fighting Eq. 8 (measured on held-out deblurring: no gain; docs/paper-to-code.md).
    """

    rec: float = 100.0
    latent: float = 100.0
    overflow: float = 1.0
    output_low: float = 0.0
    output_high: float = 1.0

    def __post_init__(self) -> None:
        if not self.output_low < self.output_high:
            raise ValueError(f"nca_loss output_low ({self.output_low}) must be below "
                             f"output_high ({self.output_high})")


def _loss_weights(cls, value):
    """A loss dataclass from an instance, a dict (checkpoint hyper-parameters) or None."""
    if value is None:
        return cls()
    if isinstance(value, dict):
        return cls(**value)
    if not isinstance(value, cls):
        raise ValueError(f"expected {cls.__name__} weights, got {type(value).__name__}")
    return value


#: the minimum of swish, ``x * sigmoid(x)`` (at ``x = -1.2785``): the lowest latent value of the
#: LNCA autoencoder, whose latent comes out of a swish
SWISH_MIN = -0.2785


def overflow(x: Tensor, low: float, high: float) -> Tensor:
    """Eq. 9 for one channel group: mean ``|x - clip(x, low, high)|``."""
    return (x - x.clamp(low, high)).abs().mean()


def derangement(n: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """A random permutation of ``range(n)`` without fixed points (§3.2.1 negatives)."""
    if n < 2:
        raise ValueError(f"LNCA phase 1 needs batches of at least 2 images for negatives, got {n}")
    while True:
        perm = torch.randperm(n, generator=generator)
        if not (perm == torch.arange(n)).any():
            return perm


def cosine_factor(progress: float) -> float:
    """Cosine decay from 1 to 0 over ``progress`` in [0, 1]."""
    return 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))


class RestorationTask(BaseTask):
    """Shared evaluation: ``restore(degraded)`` is compared with the clean image."""

    def restore(self, degraded: Tensor) -> Tensor:
        """Restore a degraded ``(B, 3, H, W)`` batch; implemented by each task."""
        raise NotImplementedError

    def _evaluate(self, batch, prefix: str) -> None:
        clean, degraded = batch
        out = self.restore(degraded).clamp(0.0, 1.0)
        b = clean.shape[0]
        scores = {}
        for name, img in (("", out), ("_input", degraded)):
            scores[f"psnr{name}"] = peak_signal_noise_ratio(img, clean, data_range=1.0)
            scores[f"ssim{name}"] = structural_similarity_index_measure(img, clean, data_range=1.0)
        for key, value in scores.items():
            self.log(f"{prefix}/{key}", value, batch_size=b, prog_bar=key == "ssim", sync_dist=True)
        self.log(f"{prefix}/rel_ssim", 100 * (scores["ssim"] / scores["ssim_input"] - 1),
                 sync_dist=True,
                 batch_size=b)

    def validation_step(self, batch, batch_idx):
        """Log PSNR / SSIM of the restored and the degraded image under ``val/``."""
        self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx):
        """Log PSNR / SSIM of the restored and the degraded image under ``test/``."""
        self._evaluate(batch, "test")

    def _cosine_adam(self, params, lr: float):
        opt = torch.optim.Adam(params, lr=lr)
        total = self.trainer.estimated_stepping_batches if self.has_trainer else 0
        if not total or total == float("inf") or total < 1:
            return opt
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_factor(s / total))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class SupervisedRestoration(RestorationTask):
    """A feed-forward restorer (``nafnet_small`` / ``restormer_small``) trained with L1.

    Args:
        model: registered model name; ``model_args`` go to its constructor.
        lr: Adam learning rate with cosine decay (NAFNet's recipe 1e-3, Restormer's 3e-4).
    """

    def __init__(self, model: str = "nafnet_small", lr: float = 1e-3,
                 model_args: Optional[dict] = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = self.build_model(model, model_args)

    def restore(self, degraded: Tensor) -> Tensor:
        """One forward pass of the restorer."""
        return self.model(degraded)

    def training_step(self, batch, batch_idx):
        """L1 loss between the restored and the clean image of a ``(clean, degraded)`` batch."""
        clean, degraded = batch
        loss = F.l1_loss(self.model(degraded), clean)
        self.log("train/loss", loss, prog_bar=True, batch_size=clean.shape[0])
        return loss

    def configure_optimizers(self):
        """Adam on the restorer with per-step cosine decay of the learning rate."""
        return self._cosine_adam(self.model.parameters(), self.hparams.lr)


class ViTCARestoration(RestorationTask):
    """Pixel-space ViTCA restoration (the LNCA paper's NCA baseline; ViTCA trainer, §1.2).

    Args:
        model: registered pixel NCA (``vitca``); ``model_args`` go to its cell.
        steps, eval_steps, update_rate: 8-32 / 64 / 0.5 in the paper.
        pool_size: sample pool size (1024); pool states are used every 2nd iteration.
        rec_weight, overflow_weight: ``1e2`` each (CALoss).
        lr: Adam with cosine decay (LNCA's port: 1e-3); per-parameter gradient normalisation.
        checkpoint_every: checkpointed BPTT segment length (0 = plain BPTT).
        image_size: filled from the datamodule (the pool's shape).
    """

    def __init__(self, model: str = "vitca", steps: Sequence[int] = (8, 32), eval_steps: int = 64,
                 update_rate: float = 0.5, pool_size: int = 1024, rec_weight: float = 100.0,
                 overflow_weight: float = 100.0, lr: float = 1e-3, normalize_gradients: bool = True,
                 checkpoint_every: int = 0, image_size: Optional[int] = None,
                 model_args: Optional[dict] = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = self.build_model(model, model_args, steps=list(steps), eval_steps=eval_steps,
                                      update_rate=update_rate, checkpoint_every=checkpoint_every)
        self.pool: Optional[SamplePool] = None
        if image_size is not None:
            self._make_pool(image_size)

    def _make_pool(self, size: int) -> None:
        c = self.model.cell.channels
        self.pool = SamplePool(self.hparams.pool_size, {"state": (c, size, size),
                                                        "clean": (3, size, size)})
        self.hparams.image_size = size

    def setup(self, stage: str) -> None:
        """Build the sample pool from the datamodule's ``image_size`` if it is not built yet."""
        dm = self.datamodule
        if self.pool is None:
            if dm is None or not hasattr(dm, "image_size"):
                raise ValueError("ViTCARestoration needs image_size or a RestorationDataModule")
            self._make_pool(dm.image_size)

    def restore(self, degraded: Tensor) -> Tensor:
        """Seed with ``degraded`` and return the output channels after the rollout."""
        return self.model(degraded)

    def losses(self, state: Tensor, clean: Tensor) -> dict:
        """L1 reconstruction and overflow losses of a rolled-out state, and their weighted sum."""
        h = self.hparams
        out, hidden = self.model.output(state), self.model.hidden(state)
        rec = F.l1_loss(out, clean)
        over = overflow(hidden, -1.0, 1.0) + overflow(out, 0.0, 1.0)
        return {"rec": rec, "overflow": over, "loss": h.rec_weight * rec + h.overflow_weight * over}

    def training_step(self, batch, batch_idx):
        """Roll out fresh seeds (every 2nd batch: pool states), then write them back to the pool."""
        clean, degraded = batch
        idx = self.pool.sample(clean.shape[0]) if batch_idx % 2 == 1 else None
        if idx is not None:  # every 2nd iteration: continue pool states (ViTCA trainer)
            state, clean = self.pool.read(idx)
        else:
            state = self.model.seed(degraded)
        state, _ = self.model.automaton.rollout(state)
        terms = self.losses(state, clean)
        self.pool.write([state, clean], idx)
        for k, v in terms.items():
            self.log(f"train/{k}", v, prog_bar=k == "loss", batch_size=clean.shape[0])
        return terms["loss"]

    def on_before_optimizer_step(self, optimizer) -> None:
        """Normalise each parameter's gradient (``g / ||g||``) if ``normalize_gradients``."""
        if self.hparams.normalize_gradients:
            normalize_gradients(self.model)

    def configure_optimizers(self):
        """Adam on the NCA with per-step cosine decay of the learning rate."""
        return self._cosine_adam(self.model.parameters(), self.hparams.lr)


class LNCARestoration(RestorationTask):
    """LNCA (Latent NCA) restoration: autoencoder phase + latent-NCA phase (§3.2, Eq. 3-9).

    Args:
        model: ``lnca_nafca`` or ``lnca_vitca``; ``model_args`` go to its cell.
        phase: ``"ae"`` (phase 1 only), ``"nca"`` (phase 2 only, from ``ae_checkpoint``) or
            ``"both"`` (phase 1 for ``ae_epochs`` epochs, then phase 2).
        ae_epochs: epochs of phase 1 when ``phase="both"`` (authors' code: 10 per phase).
        ae_checkpoint: for ``phase="nca"``: a Lightning checkpoint of an LNCA run or a file written
            by phase 1 (``phase1_autoencoder.pt``).
        steps, eval_steps, update_rate: NCA rollout (8-32 / 64; authors' phase 2 uses 1.0).
        lr_ae, lr_nca: Adam learning rates, cosine decay per phase (authors' code: 1e-2 both).
        ae_loss: phase-1 loss weights (:class:`AutoencoderLoss`; a dict in YAML).
        nca_loss: phase-2 loss weights (:class:`LatentNCALoss`; a dict in YAML).
        pool_size: phase-2 pool (1024).
        normalize_gradients: per-parameter ``g / ||g||`` (authors' code, both phases).
        checkpoint_every: checkpointed BPTT segment length (0 = plain BPTT).
        ae_monitor: what phase 1 keeps the best autoencoder by, on the validation photos'
            clean images: ``"ssim"`` of the reconstruction (the authors' choice) or ``"psnr"``
            (less swayed by one photo's contrast: the embedded data has one validation photo).
        image_size: filled from the datamodule (the pool's shape).
    """

    def __init__(self, model: str = "lnca_nafca", phase: str = "both", ae_epochs: int = 10,
                 ae_checkpoint: Optional[str] = None, steps: Sequence[int] = (8, 32),
                 eval_steps: int = 64, update_rate: float = 1.0, lr_ae: float = 1e-2,
                 lr_nca: float = 1e-2, ae_loss: Optional[AutoencoderLoss] = None,
                 nca_loss: Optional[LatentNCALoss] = None, pool_size: int = 1024,
                 normalize_gradients: bool = True, checkpoint_every: int = 0,
                 ae_monitor: str = "ssim", image_size: Optional[int] = None,
                 model_args: Optional[dict] = None) -> None:
        super().__init__()
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        if ae_monitor not in AE_MONITORS:
            raise ValueError(f"ae_monitor must be one of {AE_MONITORS}, got {ae_monitor!r}")
        if phase == "nca" and not ae_checkpoint:
            raise ValueError("phase='nca' trains the NCA on a frozen autoencoder: "
                             "set ae_checkpoint")
        if phase == "both" and ae_epochs < 1:
            raise ValueError(f"ae_epochs must be >= 1 with phase='both', got {ae_epochs}")
        self.ae_loss = _loss_weights(AutoencoderLoss, ae_loss)
        self.nca_loss = _loss_weights(LatentNCALoss, nca_loss)
        self.save_hyperparameters()
        # plain dicts in the checkpoint: it reloads without importing the dataclasses
        self.hparams.ae_loss, self.hparams.nca_loss = asdict(self.ae_loss), asdict(self.nca_loss)
        self.automatic_optimization = False
        self.model = self.build_model(model, model_args, steps=list(steps), eval_steps=eval_steps,
                                      update_rate=update_rate, checkpoint_every=checkpoint_every)
        self.pool: Optional[SamplePool] = None
        self._ae_loaded = False
        self._ae_saved = False  # phase 1 of *this* run wrote ae_file
        self.best_ae_score = -float("inf")
        if image_size is not None:
            self._make_pool(image_size)

    # ------------------------------------------------------------------ setup
    def _make_pool(self, size: int) -> None:
        self.hparams.image_size = size
        if self.hparams.phase == "ae":  # phase 1 alone never uses the NCA's pool
            return
        s, c = size // LATENT_DOWNSCALE, self.model.cell.channels
        self.pool = SamplePool(self.hparams.pool_size, {"state": (c, s, s),
                                                        "clean": (3, size, size),
                                                        "degraded": (3, size, size)})

    def setup(self, stage: str) -> None:
        """Build the pool from the datamodule's ``image_size``; ``phase="nca"`` loads the AE."""
        dm = self.datamodule
        if self.hparams.image_size is None:
            if dm is None or not hasattr(dm, "image_size"):
                raise ValueError("LNCARestoration needs image_size or a RestorationDataModule")
            self._make_pool(dm.image_size)
        if stage == "fit" and self.hparams.phase == "nca" and not self._ae_loaded:
            self.load_autoencoder(self.hparams.ae_checkpoint)

    @property
    def ae_file(self) -> Path:
        """Where phase 1 keeps its best autoencoder (picked up by phase 2)."""
        return Path(self.trainer.default_root_dir) / "phase1_autoencoder.pt"

    def load_autoencoder(self, path) -> None:
        """Load the autoencoder weights from a phase-1 file or an LNCA Lightning checkpoint."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"autoencoder checkpoint not found: {path}")
        data = torch.load(path, map_location="cpu", weights_only=False)
        if "state_dict" in data:  # a Lightning checkpoint of an LNCA task
            prefix = "model.autoencoder."
            data = {k[len(prefix):]: v for k, v in data["state_dict"].items()
                    if k.startswith(prefix)}
            if not data:
                raise ValueError(f"{path} holds no LNCA autoencoder weights")
        self.model.autoencoder.load_state_dict(data)
        self._ae_loaded = True

    def in_phase1(self) -> bool:
        """Whether the current epoch trains the autoencoder (phase 1)."""
        h = self.hparams
        return h.phase == "ae" or (h.phase == "both" and self.current_epoch < h.ae_epochs)

    def _phase_progress(self, batch_idx: int = 0) -> Optional[float]:
        """Progress through the current phase in [0, 1] (curriculum and cosine decay)."""
        h = self.hparams
        if not self.has_trainer:
            return None
        trainer = self.trainer
        max_epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        nb = (max(1, int(trainer.num_training_batches))
              if trainer.num_training_batches != float("inf") else 1)
        if h.phase == "both":
            start, length = (0, h.ae_epochs) if self.in_phase1() else (
                h.ae_epochs, (max_epochs - h.ae_epochs) if max_epochs else None)
        else:
            start, length = 0, max_epochs
        if not length or length < 1:
            return None
        return (self.current_epoch - start + batch_idx / nb) / length

    @property
    def curriculum_progress(self) -> Optional[float]:
        """Progress read by :class:`~nca_zoo.data.RestorationDataModule`'s curriculum.

        It is the progress through the current phase, so the curriculum restarts per phase.
        """
        return self._phase_progress()

    def configure_optimizers(self):
        """Two Adam optimisers: the autoencoder's (phase 1) and the NCA cell's (phase 2)."""
        return [torch.optim.Adam(self.model.autoencoder.parameters(), lr=self.hparams.lr_ae),
                torch.optim.Adam(self.model.cell.parameters(), lr=self.hparams.lr_nca)]

    def _step(self, opt, loss: Tensor, module, lr: float, batch_idx: int) -> None:
        progress = self._phase_progress(batch_idx)
        for group in opt.param_groups:
            group["lr"] = lr * (cosine_factor(progress) if progress is not None else 1.0)
        opt.zero_grad()
        with self._local_backward():
            self.manual_backward(loss)
        self._average_gradients(module)
        if self.hparams.normalize_gradients:
            normalize_gradients(module)
        opt.step()

    def _local_backward(self):
        """Keep DDP's reducer out of LNCA's backward passes (a no-op on one device).

        Each phase steps only part of the model (phase 1 the autoencoder, phase 2 the NCA), and
        phase 1 takes two optimiser steps per batch; DDP's reducer expects every trainable
        parameter in every backward.  Gradients are averaged by :meth:`_average_gradients`
        instead, for exactly the module being stepped.
        """
        block = getattr(self.trainer.strategy, "block_backward_sync", None)
        return block() if block is not None else contextlib.nullcontext()

    def _average_gradients(self, module: torch.nn.Module) -> None:
        """All-reduce (mean) the gradients of ``module`` over the ranks, as one flat tensor."""
        if self.trainer.world_size <= 1:
            return
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return
        flat = self.trainer.strategy.reduce(torch.cat([g.reshape(-1) for g in grads]),
                                            reduce_op="mean")
        for g, part in zip(grads, flat.split([g.numel() for g in grads])):
            g.copy_(part.view_as(g))

    # ------------------------------------------------------------------ phase 1 (Eq. 3-6)
    def phase1_losses(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> dict:
        """First gradient step: reconstruction (Eq. 3), distance (Eq. 4), task (Eq. 5)."""
        ae, w = self.model.autoencoder, self.ae_loss
        mask = (anchor != positive).any(1, keepdim=True).to(anchor.dtype)  # m_{A,P}
        x = torch.cat([anchor, positive, negative])
        skip, z = ae.encode(x)
        rec = ae.decode(z, skip)
        l_rec = F.mse_loss(rec, x)
        z_a, z_p, z_n = z.flatten(1).chunk(3)
        d_ap, d_an = (z_a - z_p).pow(2).mean(1), (z_a - z_n).pow(2).mean(1)
        l_dist = F.relu(d_ap - d_an + w.margin).mean()
        rec_p = rec.chunk(3)[1]
        l_task = F.mse_loss(positive * mask, rec_p * mask)
        total = w.rec * l_rec + w.dist * l_dist + w.task * l_task
        return {"rec_ae": l_rec, "dist": l_dist, "task": l_task, "loss_ae": total}

    def equivalence_loss(self, anchor: Tensor, positive: Tensor) -> Tensor:
        """Second gradient step, Eq. 6: decode swapped latents and skips.

        The anchor's latent (plus noise) is decoded with the positive's skip, and vice versa.
        """
        ae = self.model.autoencoder
        mask = (anchor != positive).any(1, keepdim=True).to(anchor.dtype)
        skip, z = ae.encode(torch.cat([anchor, positive]))
        (skip_a, skip_p), (z_a, z_p) = skip.chunk(2), z.chunk(2)
        x_a_star = ae.decode(z_a + self.ae_loss.eq_noise_std * torch.randn_like(z_a), skip_p)
        x_p_star = ae.decode(z_p, skip_a)
        return (F.mse_loss(anchor * mask, x_a_star * mask)
                + F.mse_loss(positive * mask, x_p_star * mask))

    def phase1_step(self, anchor: Tensor, positive: Tensor, batch_idx: int) -> dict:
        """Two optimiser steps on the autoencoder: Eq. 3-5 (deranged negatives), then Eq. 6."""
        opt = self.optimizers()[0]
        ae, lr = self.model.autoencoder, self.hparams.lr_ae
        ae.train()
        negative = anchor[derangement(anchor.shape[0]).to(anchor.device)]
        terms = self.phase1_losses(anchor, positive, negative)
        self._step(opt, terms["loss_ae"], ae, lr, batch_idx)
        eq = self.equivalence_loss(anchor, positive)
        self._step(opt, self.ae_loss.eq * eq, ae, lr, batch_idx)
        terms["eq"] = eq
        return terms

    # ------------------------------------------------------------------ phase 2 (Eq. 7-9)
    def phase2_losses(self, state: Tensor, clean: Tensor, degraded: Tensor, skip: Tensor,
                      z_true: Tensor) -> dict:
        """Reconstruction (Eq. 7), latent (Eq. 8) and overflow (Eq. 9) losses.

        Eq. 7 compares the model's read-out (:meth:`~nca_zoo.models.lnca.LatentNCA.read_out`:
        ``D(output, skip)``, or the residual read-out of ``degraded``) with the clean image.
        """
        w, m = self.nca_loss, self.model
        out, hidden = m.output(state), m.hidden(state)
        l_rec = F.mse_loss(m.read_out(degraded, state, skip), clean)
        l_lat = F.mse_loss(out, z_true)
        l_over = overflow(out, w.output_low, w.output_high) + overflow(hidden, -1.0, 1.0)
        total = w.rec * l_rec + w.latent * l_lat + w.overflow * l_over
        return {"rec_nca": l_rec, "latent": l_lat, "overflow": l_over, "loss_nca": total}

    def freeze_autoencoder(self) -> None:
        """Put the autoencoder in eval mode and stop its gradients (phase 2)."""
        self.model.autoencoder.eval()
        self.model.autoencoder.requires_grad_(False)

    def _nca_update(self, state: Tensor, clean: Tensor, degraded: Tensor, batch_idx: int) -> tuple:
        with torch.no_grad():
            skip, _ = self.model.autoencoder.encode(degraded)
            _, z_true = self.model.autoencoder.encode(clean)
        state, _ = self.model.automaton.rollout(state)
        terms = self.phase2_losses(state, clean, degraded, skip, z_true)
        self._step(self.optimizers()[1], terms["loss_nca"], self.model.cell, self.hparams.lr_nca,
                   batch_idx)
        return state.detach(), terms

    def phase2_step(self, clean: Tensor, degraded: Tensor, batch_idx: int) -> dict:
        """One fresh step, then one pool step (the authors' ``LatentTrainerCA``)."""
        self.freeze_autoencoder()
        with torch.no_grad():
            _, z = self.model.autoencoder.encode(degraded)
        state, terms = self._nca_update(self.model.seed(z), clean, degraded, batch_idx)
        self.pool.write([state, clean, degraded])
        idx = self.pool.sample(clean.shape[0])
        if idx is not None:
            p_state, p_clean, p_degraded = self.pool.read(idx)
            p_state, _ = self._nca_update(p_state, p_clean, p_degraded, batch_idx)
            self.pool.write([p_state, p_clean, p_degraded], idx)
        return terms

    # ------------------------------------------------------------------ loop hooks
    def on_train_epoch_start(self) -> None:
        """At the phase switch load phase 1's best autoencoder; freeze it in phase 2."""
        h = self.hparams
        if h.phase == "both" and self.current_epoch == h.ae_epochs:
            if not self._ae_saved:  # no validation ran in phase 1: hand over the last AE
                self._save_autoencoder()
            self.load_autoencoder(self.ae_file)
        if not self.in_phase1():
            self.freeze_autoencoder()

    def training_step(self, batch, batch_idx):
        """Phase 1 or phase 2 step of LNCA on a ``(clean, degraded)`` batch."""
        clean, degraded = batch
        if self.in_phase1():
            terms = self.phase1_step(clean, degraded, batch_idx)
        else:
            terms = self.phase2_step(clean, degraded, batch_idx)
        for k, v in terms.items():
            self.log(f"train/{k}", v.detach(), prog_bar=k.startswith("loss"),
                     batch_size=clean.shape[0])

    def restore(self, degraded: Tensor) -> Tensor:
        """Phase 1: the autoencoder with the NCA bypassed (switch S); else the full LNCA."""
        return self.model(degraded, steps=0 if self.in_phase1() else None)

    def validation_step(self, batch, batch_idx):
        """Restoration metrics; in phase 1 also the autoencoder's reconstruction PSNR / SSIM."""
        super().validation_step(batch, batch_idx)
        if self.in_phase1():
            clean = batch[0]
            rec = self.model(clean, steps=0).clamp(0, 1)
            for name, metric in (("ssim", structural_similarity_index_measure),
                                 ("psnr", peak_signal_noise_ratio)):
                self.log(f"val/ae_{name}", metric(rec, clean, data_range=1.0),
                         batch_size=clean.shape[0], sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        """Phase 1 keeps the autoencoder with the best ``val/ae_<ae_monitor>``."""
        if self.trainer.sanity_checking or not self.in_phase1():
            return
        # synced: the same on every rank
        score = self.trainer.callback_metrics.get(f"val/ae_{self.hparams.ae_monitor}")
        if score is not None and float(score) > self.best_ae_score:
            self.best_ae_score = float(score)
            self._save_autoencoder()

    def _save_autoencoder(self) -> None:
        """Write the autoencoder to :attr:`ae_file` (rank 0 only; the others wait for it)."""
        if self.trainer.is_global_zero:
            self.ae_file.parent.mkdir(parents=True, exist_ok=True)
            torch.save(self.model.autoencoder.state_dict(), self.ae_file)
        self._ae_saved = True
        self.trainer.strategy.barrier("lnca_autoencoder_saved")
