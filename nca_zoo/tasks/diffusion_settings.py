"""DiffusionTask's grouped settings (mappings in YAML): the DDPM schedule and the sample grid."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..diffusion.noise_schedule import DDPMSchedule
from ..diffusion.samplers import DEFAULT_SAMPLER, check_sampler


@dataclass
class NoiseSchedule:
    """The DDPM noise schedule (Diff-NCA §3: linear β from 1e-4 to 0.02 over T = 300 steps).

    ``scale_betas`` rescales the β range to ``T`` (improved DDPM); the authors' code does not.
    """

    timesteps: int = 300
    beta_schedule: str = "linear"
    beta_start: float = 1e-4
    beta_end: float = 0.02
    scale_betas: bool = False

    def build(self) -> DDPMSchedule:
        """The schedule's buffers as a module."""
        return DDPMSchedule(self.timesteps, self.beta_schedule, self.beta_start, self.beta_end,
                            self.scale_betas)


@dataclass
class Sampling:
    """The sample grid written at every validation, and the sampler a checkpoint samples with.

    ``sampler`` names a scheduler of :mod:`nca_zoo.diffusion.samplers` (``ddpm``, ``ddim``,
    ``dpm-solver++``, ``unipc``, ``euler``, ...), ``sampler_steps`` its steps (None: all T for
    ``ddpm``, 20 for the others); ``sample_size`` (height, width) defaults to the data's size,
    which training records in the checkpoint; ``n_samples`` 0 writes no grid.
    """

    n_samples: int = 16
    sample_size: Optional[list[int]] = None
    sampler: str = DEFAULT_SAMPLER
    sampler_steps: Optional[int] = None

    def __post_init__(self) -> None:
        check_sampler(self.sampler)
        if self.sampler_steps is not None and self.sampler_steps < 1:
            raise ValueError(f"sampler_steps must be >= 1 (or None), got {self.sampler_steps}")
        if self.sample_size is not None:
            self.sample_size = [int(s) for s in self.sample_size]
