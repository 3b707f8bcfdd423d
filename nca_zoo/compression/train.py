"""Compress an image: train one GNCA per patch (all patches as one bank) and return its file.

The defaults are a fast-convergence recipe for few iterations (lr 1e-2, loss on the final
state); the paper's recipe (lr 2e-3, Eq. 2 over all steps) is ``configs/gnca/paper_*.yaml``.
The same image and seed give a byte-identical file.
"""
from __future__ import annotations

from typing import Optional

import lightning as L

from ..data.patch_bank import PatchBankDataModule
from ..models.gnca import GNCA_SIZES, default_steps


def compress(image: str, size: str = "medium", patch: int = 40, iterations: int = 1500,
             seed: int = 0, steps: Optional[int] = None, lr: float = 1e-2, progress: bool = False):
    """Train a GNCA bank on ``image``; return ``(nca_bytes, task, datamodule)``."""
    if size not in GNCA_SIZES:
        raise ValueError(f"unknown size {size!r}; choose from {', '.join(GNCA_SIZES)}")
    if not 3 <= patch <= 1024:
        raise ValueError(f"--patch must be between 3 and 1024, got {patch}")
    if iterations < 1:
        raise ValueError(f"--iterations must be >= 1, got {iterations}")
    dm = PatchBankDataModule([image], size=None, patch_size=patch,
                             iterations_per_epoch=iterations, strict=True)
    task = train_bank(dm, size, iterations, steps, seed, lr, progress)
    return task.to_nca(0), task, dm


def train_bank(dm: PatchBankDataModule, size: str = "medium", iterations: int = 1500,
               steps: Optional[int] = None, seed: int = 0, lr: float = 1e-2,
               progress: bool = False, loss_over: str = "final"):
    """Train one GNCA bank on every patch of ``dm`` (one or several images); return the task."""
    from ..tasks.compression import GNCACompression  # the task imports the codec: import late

    L.seed_everything(seed, verbose=False)
    task = GNCACompression(model=f"gnca_{size}", steps=steps or default_steps(dm.patch_size),
                           batch_size=1, lr=lr, loss_over=loss_over)
    trainer = L.Trainer(max_steps=iterations, accelerator="auto", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=progress,
                        enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0,
                        deterministic=True)
    trainer.fit(task, datamodule=dm)
    return task
