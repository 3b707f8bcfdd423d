"""Pixel-space ViTCA restoration: the LNCA paper's NCA baseline (Tesfaldet et al., ViTCA trainer).

State ``[input | output | hidden]``, sample pool (every 2nd iteration starts from pool states),
8-32 steps in training, 64 in evaluation, update_rate 0.5, loss ``1e2 L1 + 1e2 overflow``.
"""
from __future__ import annotations

from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from ..automaton import normalize_gradients
from ..layers.settings import regroup
from .pool import SamplePool
from .restoration import RestorationTask, overflow
from .settings import Rollout

#: the ViTCA trainer's rollout: 8-32 steps in training, 64 in evaluation, half the cells update
VITCA_ROLLOUT = {"steps": [8, 32], "eval_steps": 64, "update_rate": 0.5}


class ViTCARestoration(RestorationTask):
    """Pixel-space ViTCA restoration (the LNCA paper's NCA baseline; ViTCA trainer, §1.2).

    Args:
        model: registered pixel NCA (``vitca``); ``model_args`` go to its cell.
        rollout: :class:`~nca_zoo.tasks.settings.Rollout` (a mapping in YAML); default
            :data:`VITCA_ROLLOUT` (8-32 / 64 steps, update_rate 0.5).
        pool_size: sample pool size (1024); pool states are used every 2nd iteration.
        rec_weight, overflow_weight: ``1e2`` each (CALoss).
        lr: Adam with cosine decay (LNCA's port: 1e-3).
        normalize_gradients: per-parameter gradient normalisation ``g / ||g||``.
        image_size: filled from the datamodule (the pool's shape).
    """

    def __init__(self, model: str = "vitca", rollout: Optional[Rollout] = None,
                 pool_size: int = 1024, rec_weight: float = 100.0,
                 overflow_weight: float = 100.0, lr: float = 1e-3, normalize_gradients: bool = True,
                 image_size: Optional[int] = None, model_args: Optional[dict] = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.rollout = self.settings("rollout", Rollout, rollout, **VITCA_ROLLOUT)
        self.model = self.build_model(model, model_args, **self.rollout.model_args())
        self.pool: Optional[SamplePool] = None
        if image_size is not None:
            self._make_pool(image_size)

    @classmethod
    def upgrade_hyperparameters(cls, hp: dict) -> dict:
        """Checkpoints written before the rollout settings were grouped."""
        return regroup(hp, "rollout", Rollout.__dataclass_fields__)

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
        return self.cosine_adam(self.model.parameters(), self.hparams.lr)
