"""Samplers by name: ``diffusers`` schedulers built from a model's own DDPM schedule.

Every scheduler gets the trained β_1..β_T exactly (``trained_betas``, so the Diff-NCA paper's
linear 1e-4 ... 0.02 over T = 300, *not* rescaled, stays the one the model was trained with),
ε-prediction and no clipping of the predicted x_0 (the authors' samplers do not clip).

* ``ddpm``: ancestral sampling (Ho et al. 2020), "fixed small" variance; all T steps unless fewer
  are asked for (then strided, the posterior between consecutive kept timesteps).
* ``ddim``: DDIM (Song et al. 2020, Eq. 12) with ``eta``; see :class:`StridedDDIMScheduler`.
* ``dpm-solver++`` (Lu et al. 2022, 2nd order multistep), ``dpm-solver++-sde``, ``unipc`` (Zhao
  et al. 2023), ``deis`` (Zhang & Chen 2023), ``euler``, ``euler-ancestral``, ``heun`` and ``lms``
  (Karras et al. 2022 / k-diffusion discretisations): the schedulers of ``diffusers`` unchanged.

:func:`make_sampler` builds one; :func:`timesteps_for` sets its timesteps, also for a chain that
starts part-way (super-resolution starts from 90 % noise).
"""
from __future__ import annotations

import inspect
import math
from typing import Optional

import numpy as np
import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DEISMultistepScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    HeunDiscreteScheduler,
    LMSDiscreteScheduler,
    UniPCMultistepScheduler,
)
from diffusers.schedulers.scheduling_ddim import DDIMSchedulerOutput
from diffusers.utils.torch_utils import randn_tensor

from .noise_schedule import DDPMSchedule

#: steps of every sampler but ``ddpm`` (which takes all T) when none are asked for; the
#: measured best trade-off of ``benchmarks/diffusion/diffusion_samplers.py`` (see its results file)
DEFAULT_SAMPLING_STEPS = 20
#: the sampler used when none is named (CLI, Python API, validation grids)
DEFAULT_SAMPLER = "dpm-solver++"


def strided_timesteps(t_start: int, n: int) -> list[int]:
    """``n`` (at most ``t_start + 1``) distinct integer timesteps from ``t_start`` down to 0."""
    n = max(1, min(n, t_start + 1))
    ts = np.linspace(t_start, 0, n).round().astype(np.int64).tolist()
    return sorted(set(ts), reverse=True)


class StridedDDIMScheduler(DDIMScheduler):
    """diffusers' DDIM, stepping between consecutive timesteps of its own list.

    ``DDIMScheduler.step`` takes the previous timestep as ``t - T // n``, which is right only
    when the timesteps have that exact integer stride; with T = 300 and evenly spaced timesteps
    from T-1 to 0 (the list this zoo has always used) it lands one step off now and then.  This
    subclass keeps its timesteps (``set_timesteps`` also takes an explicit descending list) and
    steps from each to the next one in the list, to ᾱ = 1 after the last.  ``step`` is the same
    Eq. 12 / 16 update as the parent's (ε-prediction, no clipping: what this zoo configures),
    written out only because the parent's previous timestep is built into it; the variance,
    ``add_noise``, config and saving are the parent's (a test checks both agree wherever the
    parent's stride is exact).
    """

    def set_timesteps(self, num_inference_steps: Optional[int] = None, device=None,
                      timesteps: Optional[list[int]] = None) -> None:
        """Evenly spaced ``num_inference_steps`` from T-1 to 0, or the given ``timesteps``."""
        if timesteps is None:
            if num_inference_steps is None:
                raise ValueError("give num_inference_steps or timesteps")
            timesteps = strided_timesteps(self.config.num_train_timesteps - 1,
                                          num_inference_steps)
        ts = [int(t) for t in timesteps]
        if any(a <= b for a, b in zip(ts, ts[1:])) or not 0 <= ts[-1] <= ts[0] < len(
                self.alphas_cumprod):
            raise ValueError(f"timesteps must decrease strictly within [0, T-1], got {ts}")
        self.num_inference_steps = len(ts)
        self.timesteps = torch.tensor(ts, dtype=torch.long, device=device)
        self._next = dict(zip(ts, ts[1:] + [-1]))

    def step(self, model_output: torch.Tensor, timestep, sample: torch.Tensor, eta: float = 0.0,
             generator: Optional[torch.Generator] = None, variance_noise=None,
             return_dict: bool = True, **_):
        """One DDIM update from ``timestep`` to the next timestep of the list (Eq. 12, 16)."""
        t = int(timestep)
        prev = self._next[t]
        abar = self.alphas_cumprod[t]
        abar_prev = self.alphas_cumprod[prev] if prev >= 0 else self.final_alpha_cumprod
        x0 = (sample - (1 - abar).sqrt() * model_output) / abar.sqrt()
        std = eta * self._get_variance(t, prev).sqrt()
        direction = (1 - abar_prev - std ** 2).clamp(min=0).sqrt() * model_output
        prev_sample = abar_prev.sqrt() * x0 + direction
        if eta > 0 and prev >= 0:          # the last step lands on x_0: no noise to draw
            if variance_noise is None:
                variance_noise = randn_tensor(model_output.shape, generator=generator,
                                              device=model_output.device,
                                              dtype=model_output.dtype)
            prev_sample = prev_sample + std * variance_noise
        if not return_dict:
            return prev_sample, x0
        return DDIMSchedulerOutput(prev_sample=prev_sample, pred_original_sample=x0)


#: name -> (scheduler class, its options beyond the schedule)
SCHEDULERS: dict[str, tuple[type, dict]] = {
    "ddpm": (DDPMScheduler, dict(variance_type="fixed_small", clip_sample=False)),
    "ddim": (StridedDDIMScheduler, dict(clip_sample=False, set_alpha_to_one=True)),
    "dpm-solver++": (DPMSolverMultistepScheduler,
                     dict(algorithm_type="dpmsolver++", solver_order=2)),
    "dpm-solver++-sde": (DPMSolverMultistepScheduler,
                         dict(algorithm_type="sde-dpmsolver++", solver_order=2)),
    "unipc": (UniPCMultistepScheduler, dict(solver_order=2)),
    "deis": (DEISMultistepScheduler, dict(solver_order=2)),
    "euler": (EulerDiscreteScheduler, {}),
    "euler-ancestral": (EulerAncestralDiscreteScheduler, {}),
    "heun": (HeunDiscreteScheduler, {}),
    "lms": (LMSDiscreteScheduler, {}),
}
SAMPLERS = tuple(SCHEDULERS)


def check_sampler(name: str) -> str:
    """``name`` if it is a known sampler, else a one-line ValueError listing the choices."""
    if name not in SCHEDULERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    return name


def default_sampling_steps(sampler: str, schedule: DDPMSchedule) -> int:
    """All T steps for ``ddpm``, :data:`DEFAULT_SAMPLING_STEPS` for the others."""
    return schedule.timesteps if check_sampler(sampler) == "ddpm" else DEFAULT_SAMPLING_STEPS


def make_sampler(name: str, schedule: DDPMSchedule):
    """Sampler ``name``: a fresh ``diffusers`` scheduler for the model's own β schedule."""
    cls, options = SCHEDULERS[check_sampler(name)]
    betas = np.asarray(schedule.betas_host, dtype=np.float64)
    return cls(num_train_timesteps=schedule.timesteps, trained_betas=betas,
               prediction_type="epsilon", **options)


def _accepts(fn, name: str) -> bool:
    return name in inspect.signature(fn).parameters


def _repeats(ts: torch.Tensor) -> bool:
    return len(torch.unique(ts)) < len(ts)


def timesteps_for(scheduler, steps: int, t_start: int, device=None) -> torch.Tensor:
    """Set ``scheduler``'s timesteps for ``steps`` steps from ``t_start`` down; return them.

    From T-1 every scheduler uses its own spacing, except DDPM, which takes ``steps`` evenly
    spaced timesteps (all T by default).  A chain from ``t_start < T-1`` takes evenly spaced
    timesteps from ``t_start`` where the scheduler accepts a list, otherwise (as diffusers'
    image-to-image pipelines do) a longer chain from T-1 entered at its first timestep
    ``<= t_start``.
    """
    T = scheduler.config.num_train_timesteps
    if steps < 1 or not 0 <= t_start < T:
        raise ValueError(f"need steps >= 1 and 0 <= t_start < {T}, got {steps}, {t_start}")
    full_ddpm = isinstance(scheduler, DDPMScheduler) and t_start == T - 1 and steps >= T
    custom = isinstance(scheduler, (DDPMScheduler, StridedDDIMScheduler)) or t_start < T - 1
    if full_ddpm:             # every timestep, T-1 ... 0: diffusers' own spacing is exactly that
        scheduler.set_timesteps(T, device=device)
        return scheduler.timesteps
    if custom and _accepts(scheduler.set_timesteps, "timesteps"):
        scheduler.set_timesteps(timesteps=strided_timesteps(t_start, steps), device=device)
        return _begin(scheduler, 0)
    if t_start == T - 1:
        n = min(steps, T)
        scheduler.set_timesteps(n, device=device)
        # the multistep solvers space n + 1 points over T - 1: close to T some round together
        while scheduler.order == 1 and n > 1 and _repeats(scheduler.timesteps):
            n -= 1
            scheduler.set_timesteps(n, device=device)
        return _begin(scheduler, 0)
    scheduler.set_timesteps(min(T, math.ceil(steps * T / (t_start + 1))), device=device)
    ts = scheduler.timesteps
    begin = int((ts > t_start).sum())
    return _begin(scheduler, begin)[begin:]


def _begin(scheduler, index: int) -> torch.Tensor:
    """Tell ``scheduler`` it starts at step ``index`` (no search for it); its timesteps."""
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(index)
    return scheduler.timesteps
