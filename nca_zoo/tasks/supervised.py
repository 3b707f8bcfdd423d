"""Feed-forward restorers (NAFNet / Restormer baselines of the LNCA paper) trained with L1."""
from __future__ import annotations

from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from .restoration import RestorationTask, load_weights


class SupervisedRestoration(RestorationTask):
    """A feed-forward restorer (``nafnet_small`` / ``restormer_small``) trained with L1.

    Args:
        model: registered model name; ``model_args`` go to its constructor.
        lr: Adam learning rate with cosine decay (NAFNet's recipe 1e-3, Restormer's 3e-4).
        init_from: start from these weights (fine-tuning): a training checkpoint (``.ckpt``) of
            this task or a pretrained module (shipped name or folder) of the same architecture.
            Only the weights are taken; the optimiser, schedule and step start afresh (resume a
            stopped run with ``--ckpt_path`` instead).  Loading the fine-tuned checkpoint later
            skips it (:meth:`upgrade_hyperparameters`), so the source need not exist then.
    """

    def __init__(self, model: str = "nafnet_small", lr: float = 1e-3,
                 model_args: Optional[dict] = None, init_from: Optional[str] = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = self.build_model(model, model_args)
        if init_from:
            load_weights(self.model, init_from, SupervisedRestoration, "lr")

    @classmethod
    def upgrade_hyperparameters(cls, hp: dict) -> dict:
        """A saved run is rebuilt without ``init_from``: its own weights replace the source's."""
        return {k: v for k, v in hp.items() if k != "init_from"}

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
        return self.cosine_adam(self.model.parameters(), self.hparams.lr)
