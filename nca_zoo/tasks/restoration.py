"""What the restoration tasks of the LNCA paper share: evaluation, the overflow loss, cosine Adam.

The tasks, one per file: :class:`~nca_zoo.tasks.supervised.SupervisedRestoration` (NAFNet /
Restormer baselines), :class:`~nca_zoo.tasks.vitca.ViTCARestoration` (pixel-space ViTCA, the
paper's NCA baseline) and :class:`~nca_zoo.tasks.lnca.LNCARestoration` (LNCA, §3.2).

All of them evaluate with the same metrics (torchmetrics PSNR / SSIM on [0, 1], plus the degraded
input's scores and the relative improvement, as the authors' REL_PSNR / REL_SSIM).  Batches are
``(clean, degraded)``.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor, nn
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

from .base import BaseTask


def overflow(x: Tensor, low: float, high: float) -> Tensor:
    """Overflow loss (LNCA Eq. 9, ViTCA) of one channel group: mean ``|x - clip(x, low, high)|``."""
    return (x - x.clamp(low, high)).abs().mean()


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
                 sync_dist=True, batch_size=b)

    def validation_step(self, batch, batch_idx):
        """Log PSNR / SSIM of the restored and the degraded image under ``val/``."""
        self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx):
        """Log PSNR / SSIM of the restored and the degraded image under ``test/``."""
        self._evaluate(batch, "test")

    def cosine_adam(self, params, lr: float):
        """Adam on ``params`` with the learning rate decayed per step along a cosine to 0."""
        opt = torch.optim.Adam(params, lr=lr)
        total = self.trainer.estimated_stepping_batches if self.has_trainer else 0
        if not total or total == float("inf") or total < 1:
            return opt
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_factor(s / total))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def load_weights(model: nn.Module, source: str, task_cls: type, marker: str) -> None:
    """Copy into ``model`` the restorer weights of a ``.ckpt`` file or a pretrained module.

    The ``init_from`` of the restoration tasks (fine-tuning): a checkpoint must be one of
    ``task_cls`` (told apart by its hyper-parameter ``marker``), a pretrained module one of the
    same architecture.

    Raises:
        FileNotFoundError: ``source`` is neither a file nor a pretrained name / folder.
        ValueError: ``source`` is not a checkpoint of this task, or its weights do not fit
            ``model`` (another architecture or width).
    """
    if str(source).endswith(".ckpt"):
        if not Path(source).is_file():
            raise FileNotFoundError(f"init_from: no checkpoint at {source}")
        state = task_cls.from_checkpoint_file(source, marker).model.state_dict()
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
