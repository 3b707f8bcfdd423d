"""What a training run cost: training images seen, optimiser steps, wall and CPU seconds, device.

:class:`TrainingBudget` keeps the running totals in every checkpoint (Lightning's callback state),
so a run resumed with ``--ckpt_path`` adds to them, and ``benchmarks/tools/export_pretrained.py``
copies them into the model card (``training_budget``).  CPU seconds are the process's user +
system time while training batches run (all of its threads; validation excluded), times the
number of processes under DDP, which assumes the ranks cost alike.
"""
from __future__ import annotations

import time

import lightning as L
import torch


class TrainingBudget(L.Callback):
    """Add up the images, batches, wall and CPU seconds of the training batches."""

    def __init__(self) -> None:
        self.totals = {"images": 0, "batches": 0, "wall_s": 0.0, "cpu_s": 0.0}
        self._start: tuple | None = None

    @property
    def state_key(self) -> str:
        """One budget per run (the key of its state in a checkpoint)."""
        return "TrainingBudget"

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        """Start the batch's clocks."""
        self._start = (time.perf_counter(), time.process_time())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        """Add the batch: its images (all ranks), wall and CPU seconds."""
        if self._start is None:
            return
        wall, cpu = time.perf_counter() - self._start[0], time.process_time() - self._start[1]
        self._start = None
        first = batch[0] if isinstance(batch, (list, tuple)) else batch
        n = len(first) if isinstance(first, torch.Tensor) else 0
        world = trainer.world_size
        self.totals["images"] += n * world
        self.totals["batches"] += 1
        self.totals["wall_s"] += wall
        self.totals["cpu_s"] += cpu * world

    def summary(self, trainer: L.Trainer | None = None) -> dict:
        """The totals, rounded, with the optimiser steps and the device that trained."""
        out = {"images_seen": int(self.totals["images"]), "batches": int(self.totals["batches"]),
               "wall_hours": round(self.totals["wall_s"] / 3600, 3),
               "cpu_hours": round(self.totals["cpu_s"] / 3600, 3)}
        if trainer is not None:
            out["optimizer_steps"] = int(trainer.global_step)
            out["device"] = ("cuda" if trainer.strategy.root_device.type == "cuda" else "cpu")
            out["processes"] = trainer.world_size
        return out

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        """Put :meth:`summary` at the checkpoint's top level (``"training_budget"``)."""
        checkpoint.setdefault("training_budget", self.summary(trainer))

    def state_dict(self) -> dict:
        """The running totals (restored on resume)."""
        return dict(self.totals)

    def load_state_dict(self, state_dict: dict) -> None:
        """Continue from a checkpoint's totals."""
        self.totals.update({k: state_dict[k] for k in self.totals if k in state_dict})
