"""Tasks and models out of ``nca-zoo fit`` checkpoints, with one-line errors.

These need a task class to read the checkpoint, so they sit above ``tasks/``; the pretrained
folders they complement are read by :func:`nca_zoo.load_pretrained` (below the tasks).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..compression.prior import PriorError, check_prior
from ..models.gnca import GNCA
from ..tasks.diffusion import DiffusionTask
from ..tasks.gnca_prior import GNCAPrior
from ..tasks.lnca import LNCARestoration
from ..tasks.supervised import SupervisedRestoration
from ..tasks.vitca import ViTCARestoration


def load_diffusion_task(path: str, device: str = "cpu") -> DiffusionTask:
    """A :class:`~nca_zoo.tasks.DiffusionTask` checkpoint, eval mode, one-line ValueErrors."""
    return DiffusionTask.from_checkpoint_file(path, "model", device)


def load_prior_checkpoint(channels: int, hidden: int, path: str) -> GNCA:
    """The prior inside a :class:`~nca_zoo.tasks.GNCAPrior` checkpoint (eval mode, on the CPU).

    To try a prior before exporting it as a pretrained folder; the arguments and checks (size,
    one NCA) are :func:`~nca_zoo.compression.prior.load_prior`'s (for shipped and folder priors),
    a file of another task is a :class:`PriorError`.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"no prior checkpoint {path}")
    try:
        task = GNCAPrior.load_from_checkpoint(path, map_location="cpu")
    except Exception as exc:  # a checkpoint of another task, or a corrupted file
        raise PriorError(f"{path} is not a GNCAPrior checkpoint ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    return check_prior(task.prior.eval(), channels, hidden, path)


def restoration_task_class(hparams: dict) -> type:
    """The restoration task class of a checkpoint's hyperparameters.

    LNCA (``phase``), pixel ViTCA (``rollout``), else
    :class:`~nca_zoo.tasks.SupervisedRestoration` (NAFNet, Restormer).
    """
    return (LNCARestoration if "phase" in hparams else ViTCARestoration if "rollout" in hparams
            else SupervisedRestoration)


def load_restoration_task(path: str):
    """The restoration task of a checkpoint, on the CPU (:func:`restoration_task_class`)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no checkpoint {path}")
    hp = torch.load(path, map_location="cpu", weights_only=False).get("hyper_parameters", {})
    return restoration_task_class(hp).load_from_checkpoint(path, map_location="cpu")
