"""LNCA restoration (Menta et al. 2024, §3.2): one LightningModule, one training phase per run.

Phase 1 (``phase="ae"``) trains the autoencoder with the NCA bypassed; phase 2 (``phase="nca"``)
freezes it and trains the NCA.  The two phases are two runs chained by the config: phase 1 keeps
its best autoencoder in ``<default_root_dir>/phase1_autoencoder.pt``, phase 2 starts from that
file (or from any LNCA checkpoint) named by ``ae_checkpoint``.  ``phase="nca+decoder"`` (not in
the paper) is phase 2 with the decoder trained beside the NCA.

Optimisation is Lightning's own (DDP, gradient clipping, precision).  The part of the model a
phase does not train is frozen when the task is built, so DDP never waits for its gradients.
Each batch takes two optimiser steps, as the authors' trainers do (:meth:`optimizer_step`):
phase 1 steps on Eq. 3-5 (deranged negatives), then on Eq. 6; phase 2 on freshly seeded states,
then on states drawn from the sample pool.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

from ..automaton import normalize_gradients
from ..layers.settings import regroup
from ..models.lnca import LATENT_DOWNSCALE
from .lnca_losses import (
    AutoencoderLoss,
    LatentNCALoss,
    autoencoder_losses,
    derangement,
    equivalence_loss,
    latent_nca_losses,
)
from .pool import SamplePool
from .restoration import RestorationTask, load_weights
from .settings import Rollout

#: what a run trains: the autoencoder (phase 1), the NCA (phase 2), or the NCA and the decoder
PHASES = ("ae", "nca", "nca+decoder")
#: the two optimiser steps of one batch, per phase
OPTIMISER_STEPS_PER_BATCH = {"ae": ("autoencoder", "equivalence"), "nca": ("fresh", "pool"),
                             "nca+decoder": ("fresh", "pool")}


@dataclass
class LearningRates:
    """Adam learning rates of LNCA's runs, each decayed along a cosine over its run.

    ``ae``: phase 1; ``nca``: phase 2 (the NCA, and the decoder in ``phase="nca+decoder"``).
    The authors' code uses 1e-2 for both.
    """

    ae: float = 1e-2
    nca: float = 1e-2


#: validation scores phase 1 can keep its best autoencoder by (``val/ae_<name>``)
AE_MONITORS = ("ssim", "psnr")
#: the authors' rollout: 8-32 steps in training, 64 in evaluation, every latent cell updates
LNCA_ROLLOUT = {"steps": [8, 32], "eval_steps": 64, "update_rate": 1.0}


class LNCARestoration(RestorationTask):
    """LNCA (Latent NCA) restoration, one phase per run (§3.2, Eq. 3-9).

    Args:
        model: ``lnca_nafca`` or ``lnca_vitca``; ``model_args`` go to its cell.
        phase: ``"ae"`` (phase 1: the autoencoder) or ``"nca"`` (phase 2: the NCA, on the frozen
            autoencoder of ``ae_checkpoint``); ``"nca+decoder"`` is phase 2 that also trains the
            autoencoder's decoder, by Eq. 7's gradient, on the latents the NCA writes (an option
            of this library: the paper freezes the whole autoencoder).  The encoder stays
            frozen, so the latent the NCA starts from, the skip and the pool's states keep their
            meaning; BatchNorm keeps phase 1's statistics.  How much the decoder then restores on
            its own, the NCA bypassed: ``AE(degraded)`` of
            ``benchmarks/lnca/lnca_autoencoder_ceiling.py``.
        ae_checkpoint: for ``phase="nca"``: the file phase 1 wrote (``phase1_autoencoder.pt``)
            or a Lightning checkpoint of an LNCA run.
        ae_monitor: what phase 1 keeps the best autoencoder by, on the validation photos'
            clean images: ``"ssim"`` of the reconstruction (the authors' choice) or ``"psnr"``
            (less swayed by one photo's contrast: the embedded data has one validation photo).
        rollout: the NCA's :class:`~nca_zoo.tasks.settings.Rollout` (a mapping in YAML);
            default :data:`LNCA_ROLLOUT` (8-32 / 64 steps; the authors' phase 2 updates all
            cells).
        pool_size: phase-2 pool (1024); at least the batch size.
        lr: Adam learning rates of phase 1 and phase 2 (:class:`LearningRates`, a mapping
            ``{ae: ..., nca: ...}`` in YAML), cosine decay over the run (authors' code: 1e-2
            both); gradients are normalised per parameter (authors' code, both phases).
        ae_loss: phase-1 loss weights (:class:`~nca_zoo.tasks.lnca_losses.AutoencoderLoss`).
        nca_loss: phase-2 loss weights (:class:`~nca_zoo.tasks.lnca_losses.LatentNCALoss`).
        image_size: filled from the datamodule (the pool's shape).
        init_from: start from the weights (autoencoder and NCA) of an LNCA checkpoint
            (``.ckpt``) or pretrained module of the same architecture: fine-tuning, e.g. phase 2
            again with other settings.  ``ae_checkpoint`` is then not read.  Only the weights
            are taken (resume a stopped run with ``--ckpt_path`` instead); loading the
            fine-tuned checkpoint later skips it, so the source need not exist then.
    """

    def __init__(self, model: str = "lnca_nafca", phase: str = "ae",
                 ae_checkpoint: Optional[str] = None, ae_monitor: str = "ssim",
                 rollout: Optional[Rollout] = None, pool_size: int = 1024,
                 lr: Optional[LearningRates] = None, ae_loss: Optional[AutoencoderLoss] = None,
                 nca_loss: Optional[LatentNCALoss] = None, image_size: Optional[int] = None,
                 model_args: Optional[dict] = None, init_from: Optional[str] = None) -> None:
        super().__init__()
        if phase not in PHASES:
            chain = (" (the phases are two runs: phase 'ae', then phase 'nca' with ae_checkpoint)"
                     if phase == "both" else "")
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}{chain}")
        if ae_monitor not in AE_MONITORS:
            raise ValueError(f"ae_monitor must be one of {AE_MONITORS}, got {ae_monitor!r}")
        if phase != "ae" and not (ae_checkpoint or init_from):
            raise ValueError(f"phase={phase!r} trains the NCA on a trained autoencoder: "
                             "set ae_checkpoint (or init_from)")
        self.save_hyperparameters()
        self.rollout = self.settings("rollout", Rollout, rollout, **LNCA_ROLLOUT)
        self.lr = self.settings("lr", LearningRates, lr)
        self.ae_loss = self.settings("ae_loss", AutoencoderLoss, ae_loss)
        self.nca_loss = self.settings("nca_loss", LatentNCALoss, nca_loss)
        if phase == "nca+decoder" and self.nca_loss.rec <= 0 and self.nca_loss.ssim <= 0:
            raise ValueError("phase='nca+decoder' trains the decoder by Eq. 7 (and the SSIM "
                             "term) alone: nca_loss rec or ssim must be positive, got rec "
                             f"{self.nca_loss.rec}, ssim {self.nca_loss.ssim}")
        self.model = self.build_model(model, model_args, **self.rollout.model_args())
        self._ae_loaded = False
        if init_from:
            load_weights(self.model, init_from, LNCARestoration, "phase")
            self._ae_loaded = True
        self.frozen_module().requires_grad_(False)  # before DDP wraps the task
        self.pool: Optional[SamplePool] = None
        self._ae_saved = False  # this run wrote ae_file
        self.best_ae_score = -float("inf")
        self._step_in_batch = 0  # which of the batch's two optimiser steps runs
        if image_size is not None:
            self._make_pool(image_size)
        self.train(self.training)

    @classmethod
    def upgrade_hyperparameters(cls, hp: dict) -> dict:
        """Checkpoints of older versions and of fine-tuning runs (``init_from``), made loadable.

        A ``phase="both"`` checkpoint ended in phase 2: it is read as one; ``ae_epochs`` and
        ``normalize_gradients`` (always on) are dropped, and so is ``init_from`` (the
        checkpoint's own weights replace the source's, autoencoder included); ``lr_ae`` and
        ``lr_nca`` become ``lr``.
        """
        hp = regroup(hp, "rollout", Rollout.__dataclass_fields__)
        if "lr_ae" in hp or "lr_nca" in hp:  # before the two rates were grouped
            rates = {"ae": hp.get("lr_ae", LearningRates.ae),
                     "nca": hp.get("lr_nca", LearningRates.nca)}
            hp = {**{k: v for k, v in hp.items() if k not in ("lr_ae", "lr_nca")}, "lr": rates}
        in_checkpoint = hp.get("phase") == "both" or hp.get("init_from")
        if hp.get("train_decoder"):  # the option's first version: a keyword, not a phase
            hp["phase"] = "nca+decoder"
        hp = {k: v for k, v in hp.items()
              if k not in ("ae_epochs", "normalize_gradients", "init_from", "train_decoder")}
        if hp.get("phase") == "both":
            hp["phase"] = "nca"
        if in_checkpoint:  # the autoencoder's weights are in the checkpoint
            hp["ae_checkpoint"] = hp.get("ae_checkpoint") or "weights-in-the-checkpoint"
        return hp

    # ------------------------------------------------------------------ the phase's parts
    def in_phase1(self) -> bool:
        """Whether this run trains the autoencoder (phase 1)."""
        return self.hparams.phase == "ae"

    def trained_module(self) -> nn.Module:
        """What this phase trains: the autoencoder, the NCA cell, or cell and decoder."""
        if self.in_phase1():
            return self.model.autoencoder
        if self.hparams.phase == "nca+decoder":
            return nn.ModuleList([self.model.cell, self.model.autoencoder.decoder_modules()])
        return self.model.cell

    def frozen_module(self) -> nn.Module:
        """The part this phase leaves alone (no gradients; the autoencoder also in eval mode)."""
        if self.in_phase1():
            return self.model.cell
        if self.hparams.phase == "nca+decoder":
            return self.model.autoencoder.encoder_modules()
        return self.model.autoencoder

    def train(self, mode: bool = True) -> "LNCARestoration":
        """Set train / eval mode; in phase 2 the autoencoder stays in eval mode (BatchNorm)."""
        super().train(mode)
        if not self.in_phase1():
            self.model.autoencoder.eval()
        return self

    # ------------------------------------------------------------------ setup
    def _make_pool(self, size: int) -> None:
        self.hparams.image_size = size
        if self.in_phase1():  # phase 1 never uses the NCA's pool
            return
        s, c = size // LATENT_DOWNSCALE, self.model.cell.channels
        self.pool = SamplePool(self.hparams.pool_size, {"state": (c, s, s),
                                                        "clean": (3, size, size),
                                                        "degraded": (3, size, size)})

    def setup(self, stage: str) -> None:
        """Build the pool from the datamodule's ``image_size``; phase 2 loads the autoencoder."""
        dm = self.datamodule
        if self.hparams.image_size is None:
            if dm is None or not hasattr(dm, "image_size"):
                raise ValueError("LNCARestoration needs image_size or a RestorationDataModule")
            self._make_pool(dm.image_size)
        if stage != "fit":
            return
        batch = getattr(dm, "batch_size", 0)
        if not self.in_phase1() and batch > self.hparams.pool_size:
            raise ValueError(f"pool_size ({self.hparams.pool_size}) must hold a batch "
                             f"({batch}): the pool step draws a batch of pool states")
        if self.trainer.accumulate_grad_batches > 1:
            raise ValueError("LNCA takes two optimiser steps per batch (§3.2), which gradient "
                             "accumulation would mix: raise the batch size instead")
        if not self.in_phase1() and not self._ae_loaded:
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

    def configure_optimizers(self):
        """Adam on the part this phase trains, with per-step cosine decay of the learning rate."""
        lr = self.lr.ae if self.in_phase1() else self.lr.nca
        return self.cosine_adam(self.trained_module().parameters(), lr)

    # ------------------------------------------------------------------ losses (Eq. 3-9)
    def phase1_losses(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> dict:
        """Phase 1, first step: reconstruction (Eq. 3), distance (Eq. 4), task (Eq. 5)."""
        return autoencoder_losses(self.model.autoencoder, self.ae_loss, anchor, positive, negative)

    def equivalence_loss(self, anchor: Tensor, positive: Tensor) -> Tensor:
        """Phase 1, second step: Eq. 6 (unweighted)."""
        return equivalence_loss(self.model.autoencoder, self.ae_loss, anchor, positive)

    def phase2_losses(self, state: Tensor, clean: Tensor, degraded: Tensor, skip: Tensor,
                      z_true: Tensor) -> dict:
        """Phase 2: reconstruction (Eq. 7), latent (Eq. 8) and overflow (Eq. 9) losses."""
        return latent_nca_losses(self.model, self.nca_loss, state, clean, degraded, skip, z_true)

    # ------------------------------------------------------------------ training
    def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None) -> None:
        """Two optimiser steps per batch, as the authors' trainers take (§3.2).

        Each runs :meth:`training_step` (through the closure: forward, backward, gradient
        clipping) for one of the phase's :data:`OPTIMISER_STEPS_PER_BATCH`, then steps.
        """
        for part in range(2):
            self._step_in_batch = part
            optimizer.step(closure=optimizer_closure)
        self._step_in_batch = 0

    def training_step(self, batch, batch_idx):
        """The loss of the current optimiser step on a ``(clean, degraded)`` batch."""
        clean, degraded = batch
        part = OPTIMISER_STEPS_PER_BATCH[self.hparams.phase][self._step_in_batch]
        if part == "autoencoder":
            negative = clean[derangement(clean.shape[0]).to(clean.device)]
            terms = self.phase1_losses(clean, degraded, negative)
            loss = terms["loss_ae"]
        elif part == "equivalence":
            terms = {"eq": self.equivalence_loss(clean, degraded)}
            loss = self.ae_loss.eq * terms["eq"]
        elif part == "fresh":
            with torch.no_grad():
                _, z = self.model.autoencoder.encode(degraded)
            terms = self._latent_nca_step(self.model.seed(z), clean, degraded)
            loss = terms["loss_nca"]
        else:  # the pool step (the authors' ``LatentTrainerCA``): states the fresh step wrote
            idx = self.pool.sample(clean.shape[0])
            loss = self._latent_nca_step(*self.pool.read(idx), idx=idx)["loss_nca"]
            terms = {"loss_nca_pool": loss}
        for k, v in terms.items():
            self.log(f"train/{k}", v.detach(), prog_bar=k.startswith("loss"),
                     batch_size=clean.shape[0])
        return loss

    def _latent_nca_step(self, state: Tensor, clean: Tensor, degraded: Tensor,
                         idx: Optional[Tensor] = None) -> dict:
        """Roll ``state`` out, write it to the pool (new entries, or back to ``idx``); losses."""
        with torch.no_grad():
            skip, _ = self.model.autoencoder.encode(degraded)
            _, z_true = self.model.autoencoder.encode(clean)
        state, _ = self.model.automaton.rollout(state)
        terms = self.phase2_losses(state, clean, degraded, skip, z_true)
        self.pool.write([state, clean, degraded], idx)
        return terms

    def on_before_optimizer_step(self, optimizer) -> None:
        """Normalise each parameter's gradient, ``g / ||g||`` (the authors' code)."""
        normalize_gradients(self.trained_module())

    # ------------------------------------------------------------------ evaluation
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

    def on_train_end(self) -> None:
        """Phase 1 without a validation: hand the last autoencoder to phase 2."""
        if self.in_phase1() and not self._ae_saved:
            self._save_autoencoder()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Keep phase 1's best validation score: a resumed run keeps the best autoencoder."""
        checkpoint["lnca_best_ae"] = {"score": self.best_ae_score, "saved": self._ae_saved}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Restore phase 1's best validation score."""
        best = checkpoint.get("lnca_best_ae", {})
        self.best_ae_score = best.get("score", -float("inf"))
        self._ae_saved = best.get("saved", False)

    def _save_autoencoder(self) -> None:
        """Write the autoencoder to :attr:`ae_file` (rank 0 only; the others wait for it)."""
        if self.trainer.is_global_zero:
            self.ae_file.parent.mkdir(parents=True, exist_ok=True)
            torch.save(self.model.autoencoder.state_dict(), self.ae_file)
        self._ae_saved = True
        self.trainer.strategy.barrier("lnca_autoencoder_saved")
