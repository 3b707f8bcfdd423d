"""The small base every task of the zoo builds on (torchgeo's ``BaseTask`` is the model).

What all tasks repeat lives here once: building the registered model with one-line errors,
reaching the datamodule and the trainer's limits without a trainer attached, and sending images
to every logger that can show them (W&B), and stopping at the first non-finite loss or
gradient and keeping the random state in checkpoints (``configure_callbacks``).
"""
from __future__ import annotations

import inspect
import io
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import lightning as L
import numpy as np
import torch
from torch import nn
from torchvision.utils import make_grid

from .._registry import create_model
from ..data.images import save_png_atomic
from ..layers import to_uint8
from ..layers.settings import as_settings
from .budget import TrainingBudget
from .finite_guard import FiniteGuard
from .resume import ExactResume


class BaseTask(L.LightningModule):
    """A LightningModule with the zoo's shared plumbing; see the module docstring."""

    #: under DDP, every rank draws the same random numbers (GNCA: ranks grow shards of one bank)
    #: instead of its own stream (data parallel: different noise, timesteps, rollout lengths)
    same_random_stream_on_all_ranks = False

    def on_fit_start(self) -> None:
        """Data-parallel tasks: give every rank > 0 its own random stream (seed + rank).

        Lightning seeds all ranks alike, so without this each rank would draw the same noise,
        timesteps and rollout lengths for its different images.
        """
        rank = self.global_rank
        if self.same_random_stream_on_all_ranks or self.trainer.world_size <= 1 or rank == 0:
            return
        seed = torch.initial_seed() + rank
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)

    def build_model(self, name: str, model_args: Optional[dict] = None, **fixed: Any) -> nn.Module:
        """``create_model(name, **fixed, **model_args)``; a bad argument is a one-line error."""
        try:
            return create_model(name, **fixed, **(model_args or {}))
        except TypeError as exc:
            raise ValueError(f"model {name!r} does not take these arguments: {exc}") from None

    def settings(self, name: str, cls: type, value: Any, **defaults: Any) -> Any:
        """The ``cls`` settings of argument ``name`` (:func:`~nca_zoo.tasks.settings.as_settings`).

        Call after ``save_hyperparameters``: the hyper-parameter becomes a plain dict, so a
        checkpoint reloads without importing ``cls``.
        """
        value = as_settings(cls, value, **defaults)
        self.hparams[name] = asdict(value)
        return value

    def configure_callbacks(self) -> list:
        """Callbacks every task brings along (unless the trainer has them already).

        :class:`FiniteGuard` stops at the first non-finite loss or gradient; :class:`ExactResume`
        makes resuming from a checkpoint exact; :class:`TrainingBudget` keeps what training cost
        (images, CPU / wall hours) in every checkpoint.
        """
        have = {type(c) for c in self.trainer.callbacks} if self.has_trainer else set()
        return [cb() for cb in (FiniteGuard, ExactResume, TrainingBudget) if cb not in have]

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

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path, *args: Any, **kwargs: Any) -> "BaseTask":
        """Lightning's ``load_from_checkpoint``, after :meth:`upgrade_hyperparameters`.

        Lightning drops hyper-parameters the constructor does not name, so a checkpoint written
        before its settings were grouped would otherwise load with default settings.
        """
        if isinstance(checkpoint_path, (str, Path)) and Path(checkpoint_path).is_file():
            ckpt = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
            hp = ckpt.get("hyper_parameters") if isinstance(ckpt, dict) else None
            if isinstance(hp, dict) and cls.upgrade_hyperparameters(hp) != hp:
                ckpt["hyper_parameters"] = cls.upgrade_hyperparameters(hp)
                checkpoint_path = io.BytesIO()
                torch.save(ckpt, checkpoint_path)
                checkpoint_path.seek(0)
        return super().load_from_checkpoint(checkpoint_path, *args, **kwargs)

    @classmethod
    def from_checkpoint_file(cls, path, marker: str, device: str = "cpu") -> "BaseTask":
        """The task of a ``nca-zoo fit`` checkpoint, in eval mode; one-line ValueErrors.

        ``marker`` is a hyper-parameter only this task has (it tells the tasks' checkpoints
        apart); LightningCLI's own keys in ``hyper_parameters`` are dropped.
        """
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"no such checkpoint: {p}")
        try:
            ckpt = torch.load(p, map_location=device, weights_only=False)
        except Exception as exc:  # pickle / zip errors of arbitrary types: not a checkpoint
            raise ValueError(f"{p} is not a readable checkpoint ({type(exc).__name__})") from None
        hp = ckpt.get("hyper_parameters", {}) if isinstance(ckpt, dict) else {}
        if not isinstance(hp, dict) or "state_dict" not in ckpt or marker not in hp:
            raise ValueError(f"{p} is not a {cls.__name__} checkpoint (no state_dict / "
                             f"hyper_parameters)")
        hp = cls.upgrade_hyperparameters(hp)
        names = inspect.signature(cls.__init__).parameters
        try:
            task = cls(**{k: v for k, v in hp.items() if k in names})
        except (TypeError, KeyError) as exc:
            raise ValueError(f"{p} holds hyper-parameters this version cannot build "
                             f"({exc})") from None
        missing, unexpected = task.load_state_dict(ckpt["state_dict"], strict=False)
        if missing or unexpected:
            raise ValueError(f"{p} does not match its model: {len(missing)} missing, "
                             f"{len(unexpected)} unexpected tensors")
        return task.to(device).eval()

    @classmethod
    def upgrade_hyperparameters(cls, hp: dict[str, Any]) -> dict[str, Any]:
        """A checkpoint's hyper-parameters as this version's constructor takes them.

        Tasks whose arguments were regrouped map the old names here; by default unchanged.
        """
        return hp

    def write_sample_grid(self, n_samples: int, generate: Callable[[], torch.Tensor]) -> None:
        """At a validation's end: ``generate()`` images, saved as a PNG grid and logged.

        The grid goes to ``<log_dir>/samples/step<N>.png`` and to every logger with
        ``log_image``; only rank 0 samples (``trainer.log_dir`` is broadcast from rank 0, so
        every rank asks for it first).  Nothing happens in the sanity check or with
        ``n_samples < 1``.
        """
        if n_samples < 1 or self.trainer.sanity_checking:
            return
        out = Path(self.trainer.log_dir or self.trainer.default_root_dir) / "samples"
        if not self.trainer.is_global_zero:
            return
        imgs = generate()
        grid = make_grid(imgs.float().cpu(), nrow=int(len(imgs) ** 0.5 + 0.999), padding=2,
                         pad_value=1.0)
        out.mkdir(parents=True, exist_ok=True)
        save_png_atomic(to_uint8(grid), out / f"step{self.global_step:07d}.png")
        self.log_images("val/samples", [grid])

    def log_images(self, key: str, images: Sequence) -> None:
        """Send ``images`` (uint8 HWC arrays or CHW tensors) to every logger with ``log_image``."""
        for logger in self.loggers:
            if hasattr(logger, "log_image"):  # WandbLogger
                logger.log_image(key, images=list(images), step=self.global_step)
