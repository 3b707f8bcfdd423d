"""GNCA image compression as a LightningModule (GNCA paper §3.3, Eq. 2-3).

One growing NCA per patch, all patches trained together as one bank (one rollout, grouped
convolutions).  Loss (Eq. 2-3): the per-pixel MSE between the RGB channels and the target patch,
averaged over all T growth steps (``loss_over="all"``) or taken at the last step only
(``"final"``, Mordvintsev et al.).  Each model's loss is summed over the bank, so a patch's
gradient does not depend on how many patches share the bank.

With several devices, every rank grows only its shard of the bank (``rank::world_size``); the
gradients of the other shards are zero there and DDP's all-reduce merges the shards.  Every
reported PSNR/SSIM is measured *after* the weights are quantised to one byte per parameter.
"""
from __future__ import annotations

from typing import Literal, Optional

import torch
from torch import Tensor

from ..automaton import normalize_gradients
from ..compression.metrics import image_quality
from ..compression.nca_file import VERSION, decode, encode
from ..compression.prior import init_from_prior, load_prior
from ..layers import stitch, to_uint8
from ..layers.quantize import DEFAULT_CODE_MAX, check_code_max, dequantize, quantize
from ..layers.settings import regroup
from ..models.gnca import GNCA
from .base import BaseTask
from .gnca_settings import BankInit
from .settings import Rollout


def shard_models(num_models: int, rank: int, world_size: int) -> Optional[Tensor]:
    """Indices of the bank models grown on ``rank`` (None = all of them, single device)."""
    if world_size <= 1:
        return None
    idx = torch.arange(rank, num_models, world_size)
    if len(idx) == 0:
        raise ValueError(f"{world_size} devices but only {num_models} patches: use fewer devices")
    return idx


class GNCACompression(BaseTask):
    """Train a GNCA bank on the patches of :class:`~nca_zoo.data.PatchBankDataModule`.

    Args:
        model: registered variant (``gnca_small`` / ``gnca_medium`` / ``gnca_large``).
        rollout: :class:`~nca_zoo.tasks.settings.Rollout` (a mapping in YAML): ``steps``, an
            int, the growth steps from the seed (the decoder uses the same number; default 48);
            ``update_rate``, GNCA trains synchronously ("fire rate 0" in the paper), i.e. 1.0;
            ``checkpoint_every``, checkpointed BPTT segment length (0 = plain BPTT).
        batch_size: rollouts per patch per iteration (paper: 8).  With update_rate 1.0 every
            rollout from the seed is identical, so >1 only helps with update_rate < 1.
        lr: Adam learning rate (paper: 2e-3).
        lr_decay_at: fraction of ``max_steps`` after which the lr drops 10x (Mordvintsev et al.);
            None keeps it constant.
        loss_over: "all" steps (Eq. 2) or the "final" state only.
        normalize_gradients: per-model, per-tensor ``g / ||g||`` (Mordvintsev et al.).
        qat_from: fraction of ``max_steps`` after which training is quantisation-aware (the
            weights go through the 8-bit round trip in the forward pass); None disables it.
        init: where every NCA starts (:class:`BankInit`, a mapping in YAML): random weights
            (the paper) or a Reptile-meta-learned prior.
        code_max: the range of the stored codes, ``[-code_max, code_max]`` (at most 127, the
            paper's one byte per parameter): smaller ranges give smaller entropy-coded files
            and coarser weights (:func:`~nca_zoo.layers.quantize.quantize`).  Used by the
            file, the 8-bit metrics and quantisation-aware training.
        num_patches, patch_size: filled from the datamodule; stored so checkpoints reload.
    """

    same_random_stream_on_all_ranks = True  # rank r grows models r::world of one bank

    def __init__(self, model: str = "gnca_medium", rollout: Optional[Rollout] = None,
                 batch_size: int = 8, lr: float = 2e-3, lr_decay_at: Optional[float] = 0.75,
                 loss_over: Literal["all", "final"] = "all", normalize_gradients: bool = True,
                 qat_from: Optional[float] = None, init: Optional[BankInit] = None,
                 code_max: int = DEFAULT_CODE_MAX, num_patches: Optional[int] = None,
                 patch_size: Optional[int] = None) -> None:
        super().__init__()
        if loss_over not in ("all", "final"):
            raise ValueError(f"loss_over must be 'all' or 'final', got {loss_over!r}")
        check_code_max(code_max)
        self.save_hyperparameters()
        self.rollout = self.settings("rollout", Rollout, rollout, steps=48, eval_steps=None)
        self.init = self.settings("init", BankInit, init)
        if batch_size < 1 or not isinstance(self.rollout.steps, int) or self.rollout.steps < 1:
            raise ValueError("batch_size and steps (an int) must be >= 1")
        self.bank: Optional[GNCA] = None
        self.register_buffer("targets", torch.empty(0), persistent=False)
        self.layout: list[tuple[int, int, int, int]] = []
        self._prior_applied = False
        if num_patches is not None and patch_size is not None:
            self._build(num_patches, patch_size)

    def _build(self, num_patches: int, patch_size: int) -> None:
        h = self.hparams
        self.bank = self.build_model(h.model, num_models=num_patches, patch_size=patch_size,
                                     **self.rollout.model_args())
        self.bank.cell.code_max = h.code_max
        self.hparams.num_patches, self.hparams.patch_size = num_patches, patch_size

    # ------------------------------------------------------------------ setup
    def setup(self, stage: str) -> None:
        """Build the bank from the datamodule's patches (or check it matches them) and load them."""
        dm = self.datamodule
        if dm is None or not hasattr(dm, "targets"):
            if self.bank is None:
                raise ValueError("GNCACompression needs a PatchBankDataModule (or num_patches and "
                                 "patch_size) to know its patches")
            return
        if self.bank is None:
            self._build(dm.num_patches, dm.patch_size)
        elif (self.bank.num_models, self.bank.patch_size) != (dm.num_patches, dm.patch_size):
            raise ValueError(f"checkpoint holds {self.bank.num_models} patches of "
                             f"{self.bank.patch_size} px, data has {dm.num_patches} of "
                             f"{dm.patch_size}")
        self.targets = dm.targets.to(self.device)
        self.layout = list(dm.layout)
        if stage == "fit":
            self.apply_init()

    def apply_init(self) -> None:
        """``init.weights="prior"``: copy the prior into every model of the bank (once per task)."""
        if self.init.weights != "prior" or self._prior_applied:
            return
        prior = load_prior(self.bank.channels, self.bank.cell.hidden, self.init.prior)
        init_from_prior(self.bank, prior, self.init.prior_weight)
        self._prior_applied = True

    @classmethod
    def upgrade_hyperparameters(cls, hp: dict) -> dict:
        """Checkpoints written before the rollout and init settings were grouped."""
        hp = regroup(hp, "rollout", Rollout.__dataclass_fields__)
        if isinstance(hp.get("init"), str):  # init: random | prior
            hp = {**{k: v for k, v in hp.items() if k != "init"}, "weights": hp["init"]}
        return regroup(hp, "init", BankInit.__dataclass_fields__)

    def configure_optimizers(self):
        """Adam; the learning rate drops 10x after ``lr_decay_at * max_steps`` steps."""
        opt = torch.optim.Adam(self.bank.parameters(), lr=self.hparams.lr)
        at, max_steps = self.hparams.lr_decay_at, self.max_steps
        if at is None or max_steps is None:
            return opt
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, [max(1, int(at * max_steps))], 0.1)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # ------------------------------------------------------------------ training
    def bank_loss(self, models: Optional[Tensor] = None) -> Tensor:
        """Eq. 2-3 summed over the (selected) models: mean over steps of per-pixel MSE."""
        target = self.targets if models is None else self.targets[models]
        bank = self.bank

        def per_model_mse(state: Tensor) -> Tensor:
            return (bank.rgb(state) - target).pow(2).mean(dim=(0, 2, 3, 4)).sum()

        steps = self.rollout.steps
        if self.hparams.loss_over == "all":
            _, total = bank.grow(models, self.hparams.batch_size, steps,
                                 step_loss=lambda s, t: per_model_mse(s))
            return total / steps
        state, _ = bank.grow(models, self.hparams.batch_size, steps)
        return per_model_mse(state)

    def on_train_batch_start(self, batch, batch_idx) -> None:
        """Turn on quantisation-aware training once ``qat_from * max_steps`` steps are done."""
        at, max_steps = self.hparams.qat_from, self.max_steps
        self.bank.cell.fake_quant = bool(at is not None and max_steps
                                         and self.global_step >= at * max_steps)

    def on_train_end(self) -> None:
        """Turn quantisation-aware training off again."""
        self.bank.cell.fake_quant = False

    def training_step(self, batch, batch_idx):
        """Grow this rank's shard of the bank; log the loss per model (Eq. 2-3)."""
        world = self.trainer.world_size
        models = shard_models(self.bank.num_models, self.global_rank, world)
        loss = self.bank_loss(models)
        n = self.bank.num_models if models is None else len(models)
        self.log("train/loss", loss.detach() / n, prog_bar=True)
        # DDP averages gradients over ranks; the shards are disjoint, so scaling by the world
        # size turns the average into the sum: every model gets exactly its one-process gradient
        return loss * world

    def on_before_optimizer_step(self, optimizer) -> None:
        """Normalise the gradients per model and per tensor (``g / ||g||``) if enabled."""
        if self.hparams.normalize_gradients:
            normalize_gradients(self.bank, leading_dims=1)

    # ------------------------------------------------------------------ evaluation
    def quantized_bank(self) -> GNCA:
        """A copy of the bank whose weights went through the 8-bit round trip."""
        code_max = self.hparams.code_max
        return self.bank.subset(transform=lambda w: dequantize(*quantize(w, code_max=code_max)))

    def decoded_images(self, quantized: bool = True) -> list:
        """Per image in the data: the decoded ``uint8 (H, W, 3)`` image."""
        bank = self.quantized_bank() if quantized else self.bank
        fake_quant, bank.cell.fake_quant = bank.cell.fake_quant, False
        with torch.no_grad():
            patches = bank(steps=self.rollout.steps)
        bank.cell.fake_quant = fake_quant
        return [to_uint8(stitch(patches[s : s + n], h, w)) for s, n, h, w in self.layout]

    def validation_step(self, batch, batch_idx):
        """Mean PSNR / SSIM / MSE of the decoded images, with 8-bit weights and float weights."""
        originals = self.datamodule.originals
        for quantized in (True, False):
            images = self.decoded_images(quantized)
            scores = [image_quality(o, d) for o, d in zip(originals, images)]
            suffix = "" if quantized else "_float"
            for key in ("psnr", "ssim", "mse"):
                value = sum(s[key] for s in scores) / len(scores)
                self.log(f"val/{key}{suffix}", value, prog_bar=key == "psnr" and quantized,
                         sync_dist=True)
            if quantized:
                self.log_images("val/reconstruction", images)

    # ------------------------------------------------------------------ export
    def to_nca(self, image_index: int = 0, version: int = VERSION) -> bytes:
        """The ``.nca`` bytes of one image of the bank (its patches' quantised weights).

        The metrics here report version 4's image (one-byte scales per column,
        :mod:`nca_zoo.layers.quantize`); other versions' scales differ, and so may their images.
        """
        start, n, h, w = self.layout[image_index]
        data = encode(self.bank.subset(start, n).cpu(), h, w, self.rollout.steps, version,
                      self.hparams.code_max)
        decode(data, limits=None)  # self-check: what we write must read back
        return data
