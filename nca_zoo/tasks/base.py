"""The small base every task of the zoo builds on (torchgeo's ``BaseTask`` is the model).

What all tasks repeat lives here once: building the registered model with one-line errors,
reaching the datamodule and the trainer's limits without a trainer attached, and sending images
to every logger that can show them (W&B).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import lightning as L
from torch import nn

from .._registry import create_model


class BaseTask(L.LightningModule):
    """A LightningModule with the zoo's shared plumbing; see the module docstring."""

    def build_model(self, name: str, model_args: Optional[dict] = None, **fixed: Any) -> nn.Module:
        """``create_model(name, **fixed, **model_args)``; a bad argument is a one-line error."""
        try:
            return create_model(name, **fixed, **(model_args or {}))
        except TypeError as exc:
            raise ValueError(f"model {name!r} does not take these arguments: {exc}") from None

    @property
    def has_trainer(self) -> bool:
        """True once a Trainer is attached (``fit``, ``validate``, ...)."""
        return self._trainer is not None

    @property
    def datamodule(self) -> Optional[L.LightningDataModule]:
        """The trainer's datamodule, or None (no trainer, or data given as loaders)."""
        return getattr(self._trainer, "datamodule", None) if self.has_trainer else None

    @property
    def max_steps(self) -> Optional[int]:
        """The trainer's ``max_steps`` when it is set (> 0), else None."""
        steps = self.trainer.max_steps if self.has_trainer else None
        return steps if steps and steps > 0 else None

    def log_images(self, key: str, images: Sequence) -> None:
        """Send ``images`` (uint8 HWC arrays or CHW tensors) to every logger with ``log_image``."""
        for logger in self.loggers:
            if hasattr(logger, "log_image"):  # WandbLogger
                logger.log_image(key, images=list(images), step=self.global_step)
