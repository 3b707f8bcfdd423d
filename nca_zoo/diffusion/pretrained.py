"""Pretrained noise predictors: the DDPM schedule travels in ``config.json`` next to the weights.

A diffusion model is only usable with the schedule it was trained with, so
:func:`diffusion_config` stores the task's schedule (and its training image size) under the
``"diffusion"`` key of the pretrained folder's ``config.json``, and :func:`load_denoiser` rebuilds
both from a shipped name, a local folder or ``hf-hub:<repo>``.
"""
from __future__ import annotations

from typing import NamedTuple

from torch import nn

from .._pretrained import load_pretrained
from .schedule import DDPMSchedule

SCHEDULE_KEYS = ("timesteps", "beta_schedule", "beta_start", "beta_end", "scale_betas")


class Denoiser(NamedTuple):
    """A pretrained noise predictor (EMA weights, eval mode), its schedule and training size."""

    model: nn.Module
    schedule: DDPMSchedule
    sample_size: tuple[int, int]


def diffusion_config(hparams, sample_size) -> dict:
    """The ``extra_config`` of :func:`~nca_zoo.save_pretrained` for a DiffusionTask's model."""
    return {"diffusion": {**{k: hparams[k] for k in SCHEDULE_KEYS},
                          "sample_size": [int(s) for s in sample_size]}}


def load_denoiser(name: str, map_location: str = "cpu") -> Denoiser:
    """Load a pretrained diffusion model (see :func:`~nca_zoo.load_pretrained`) with its schedule."""
    model = load_pretrained(name, map_location)
    cfg = model.pretrained_config.get("diffusion")
    if not isinstance(cfg, dict):
        raise ValueError(f"pretrained module {name!r} is not a diffusion model (its config.json "
                         f"has no 'diffusion' schedule)")
    try:
        schedule = DDPMSchedule(cfg["timesteps"], cfg["beta_schedule"], cfg["beta_start"],
                                cfg["beta_end"], cfg["scale_betas"])
        size = tuple(int(s) for s in cfg["sample_size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"pretrained module {name!r} has an invalid diffusion config ({exc})") from None
    return Denoiser(model, schedule.to(map_location), size)
