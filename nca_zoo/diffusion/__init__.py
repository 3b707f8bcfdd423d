"""DDPM machinery shared by Diff-NCA, FourierDiff-NCA and the UNet baseline.

``schedule``: the β schedule and closed forms; ``sampling``: ancestral DDPM, DDIM, inpainting,
super-resolution; ``tiling``: bounded-memory noise prediction for large images; ``fid``: FID/KID;
``pretrained``: pretrained noise predictors with their schedule.
"""
from .pretrained import Denoiser, load_denoiser
from .sampling import ddim_sample, ddpm_sample, inpaint, sample, superres_x2
from .schedule import DDPMSchedule
from .tiling import TiledDenoiser

__all__ = ["DDPMSchedule", "Denoiser", "TiledDenoiser", "load_denoiser", "ddim_sample", "ddpm_sample", "inpaint", "sample",
           "superres_x2"]
