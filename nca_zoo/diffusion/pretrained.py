"""Loading noise predictors: pretrained folders (with their schedule) and training checkpoints.

A diffusion model is only usable with the schedule it was trained with, so
:func:`diffusion_config` stores the task's schedule (and its training image size) under the
``"diffusion"`` key of the pretrained folder's ``config.json``, and :func:`load_denoiser` rebuilds
both from a shipped name, a local folder or ``hf-hub:<repo>``.  A checkpoint written by
``nca-zoo fit`` (a DiffusionTask) is read by :func:`nca_zoo.drivers.load_diffusion_task`.
"""
from __future__ import annotations

from typing import NamedTuple

from torch import nn

from .._pretrained import PretrainedError, load_pretrained
from .noise_schedule import DDPMSchedule

SCHEDULE_KEYS = ("timesteps", "beta_schedule", "beta_start", "beta_end", "scale_betas")
#: sanity bounds on a pretrained folder's schedule length and training size
MAX_TIMESTEPS, MAX_SAMPLE_SIDE = 100_000, 4096


def _bounded(value, high: int) -> int:
    """``value`` as an int in ``[1, high]``; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ValueError(f"{value!r} is not an integer in [1, {high}]")
    return value


class Denoiser(NamedTuple):
    """A pretrained noise predictor (EMA weights, eval mode), its schedule and training size."""

    model: nn.Module
    schedule: DDPMSchedule
    sample_size: tuple[int, int]


def diffusion_config(schedule, sample_size) -> dict:
    """The ``extra_config`` of :func:`~nca_zoo.save_pretrained` for a DiffusionTask's model.

    ``schedule``: the task's DDPM schedule settings as a mapping (``task.hparams.schedule``).
    """
    return {"diffusion": {**{k: schedule[k] for k in SCHEDULE_KEYS},
                          "sample_size": [int(s) for s in sample_size]}}


def load_denoiser(name: str, map_location: str = "cpu") -> Denoiser:
    """Load a pretrained diffusion model and its schedule (see :func:`~nca_zoo.load_pretrained`)."""
    model = load_pretrained(name, map_location)
    cfg = model.pretrained_config.get("diffusion")
    if not isinstance(cfg, dict):
        raise PretrainedError(f"pretrained module {name!r} is not a diffusion model (its "
                              f"config.json has no 'diffusion' schedule)")
    try:
        schedule = DDPMSchedule(_bounded(cfg["timesteps"], MAX_TIMESTEPS), cfg["beta_schedule"],
                                cfg["beta_start"], cfg["beta_end"], cfg["scale_betas"])
        size = tuple(_bounded(s, MAX_SAMPLE_SIDE) for s in cfg["sample_size"])
        if len(size) != 2:
            raise ValueError(f"sample_size has {len(size)} numbers, not 2")
    except (KeyError, TypeError, ValueError) as exc:
        raise PretrainedError(f"pretrained module {name!r} has an invalid diffusion config "
                              f"({exc})") from None
    return Denoiser(model, schedule.to(map_location), size)
