"""Exact resume: ``N/2`` steps, then ``N/2`` more from the checkpoint, equal ``N`` steps.

Two things stand between Lightning's resume and an exact one, and :class:`ExactResume` fixes both:

* NCA training is random at every step (rollout lengths, stochastic updates, pool indices, noise
  levels, degradations, the data order), and Lightning re-seeds a resumed run from the config's
  seed.  The callback stores the state of every generator (torch CPU and CUDA, NumPy, Python) of
  every rank in the checkpoint and puts it back right before the first resumed step.  A checkpoint
  from another number of ranks resumes from each rank's seed (a warning says so).
* A checkpoint written in ``on_train_epoch_end`` (ModelCheckpoint's default when validation runs
  every epoch) makes Lightning 2.6 finish that epoch again on resume and count it twice, so the
  run would skip an epoch (LNCA's phase switch and curriculum read the epoch).  The callback
  takes the duplicate count back.
"""
from __future__ import annotations

import pickle
import random
from typing import Any, Optional

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn

#: room for one rank's pickled generator states (about 15 KB with CUDA) in the gathered tensor
STATE_BYTES = 1 << 16


def capture() -> dict:
    """The state of this process's random generators."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),  # plain types and
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)),  # tensors: loadable
                       int(pos), int(has_gauss), float(gauss)]}         # with weights_only
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict) -> None:
    """Put back a state returned by :func:`capture`."""
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def gather(trainer: Optional[L.Trainer], state: dict) -> list:
    """Every rank's ``state``, in rank order, through the strategy's ``all_gather``.

    Each rank pickles its state into a fixed-size byte tensor (the length first), so one
    Lightning all-gather of equal shapes carries them.
    """
    if trainer is None or trainer.world_size <= 1:
        return [state]
    data = pickle.dumps(state)
    if len(data) > STATE_BYTES:
        raise ValueError(f"random states of {len(data)} bytes exceed {STATE_BYTES}")
    buf = torch.zeros(STATE_BYTES + 8, dtype=torch.uint8)
    buf[:8] = torch.tensor(list(len(data).to_bytes(8, "little")), dtype=torch.uint8)
    buf[8:8 + len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    rows = trainer.strategy.all_gather(buf.to(trainer.strategy.root_device)).cpu()
    return [pickle.loads(bytes(row[8:8 + int.from_bytes(bytes(row[:8]), "little")]))
            for row in rows.reshape(trainer.world_size, -1)]


class ExactResume(L.Callback):
    """Save every rank's generator states with each checkpoint; restore them on resume."""

    def __init__(self) -> None:
        self._pending: list | None = None
        self._trainer: Optional[L.Trainer] = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Remember the trainer: :meth:`state_dict` gathers the ranks' states through it."""
        self._trainer = trainer

    def state_dict(self) -> dict[str, Any]:
        """Every rank's generator states (gathered: checkpoints are built on all ranks)."""
        return {"ranks": gather(self._trainer, capture())}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Keep the states until training starts (setup would consume random numbers first)."""
        self._pending = state_dict.get("ranks")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Restore this rank's saved states, right before the first resumed step."""
        loop = trainer.fit_loop
        if loop.restarted_on_epoch_end:  # saved in on_train_epoch_end: Lightning 2.6 ends that
            for tracker in (loop.epoch_progress.total, loop.epoch_progress.current):
                tracker.processed -= 1  # epoch again on resume and would count it twice
        states, self._pending = self._pending, None
        if not states:
            return
        if len(states) != trainer.world_size:
            rank_zero_warn(f"checkpoint saved by {len(states)} rank(s), resuming on "
                           f"{trainer.world_size}: random streams start from the seed")
            return
        restore(states[trainer.global_rank])
