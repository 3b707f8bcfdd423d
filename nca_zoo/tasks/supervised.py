"""Feed-forward restorers (NAFNet / Restormer baselines of the LNCA paper) trained with L1."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from .restoration import RestorationTask


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
            load_weights(self.model, init_from)

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


def load_weights(model: nn.Module, source: str) -> None:
    """Copy into ``model`` the restorer weights of a ``.ckpt`` file or a pretrained module.

    Raises:
        FileNotFoundError: ``source`` is neither a file nor a pretrained name / folder.
        ValueError: ``source`` is not a checkpoint of this task, or its weights do not fit
            ``model`` (another architecture or width).
    """
    if str(source).endswith(".ckpt"):
        if not Path(source).is_file():
            raise FileNotFoundError(f"init_from: no checkpoint at {source}")
        state = SupervisedRestoration.from_checkpoint_file(source, "lr").model.state_dict()
    else:
        from .._pretrained import load_pretrained

        state = load_pretrained(source).state_dict()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError:
        ours = model.state_dict()
        odd = sorted(set(ours) ^ set(state)) or [k for k in ours if ours[k].shape != state[k].shape]
        raise ValueError(f"init_from: the weights of {source} do not fit this model "
                         f"({len(odd)} tensors differ, e.g. {odd[0]!r})") from None
