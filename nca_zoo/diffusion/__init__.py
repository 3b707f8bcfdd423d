"""DDPM machinery shared by Diff-NCA, FourierDiff-NCA and the UNet baseline.

``schedule``: the β schedule and closed forms; ``schedulers``: samplers by name (diffusers'
DDPM, DDIM, DPM-Solver++, UniPC, Euler, ...) built from that schedule; ``sampling``: generation,
inpainting, super-resolution through them; ``tiling``: bounded-memory noise prediction for
large images; ``fid``: FID/KID;
``evaluate``: FID/KID of a model's samples (model cards); ``pretrained``: pretrained noise
predictors with their schedule, and training checkpoints.
"""
from .pretrained import Denoiser, load_denoiser, load_task
from .sampling import denoise, inpaint, sample, superres_x2
from .schedule import DDPMSchedule
from .schedulers import DEFAULT_SAMPLER, SAMPLERS, make_scheduler
from .tiling import TiledDenoiser

__all__ = ["DEFAULT_SAMPLER", "DDPMSchedule", "Denoiser", "SAMPLERS", "TiledDenoiser", "denoise",
           "inpaint", "load_denoiser", "load_task", "make_scheduler", "sample", "superres_x2"]
