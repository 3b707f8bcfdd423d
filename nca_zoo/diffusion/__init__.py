"""DDPM machinery shared by Diff-NCA, FourierDiff-NCA and the UNet baseline.

``schedule``: the β schedule and closed forms; ``sampling``: ancestral DDPM, DDIM, inpainting,
super-resolution; ``tiling``: bounded-memory noise prediction for large images; ``fid``: FID/KID;
``evaluate``: FID/KID of a model's samples (model cards); ``pretrained``: pretrained noise
predictors with their schedule, and training checkpoints.
"""
from .pretrained import Denoiser, load_denoiser, load_task
from .sampling import ddim_sample, ddpm_sample, inpaint, sample, superres_x2
from .schedule import DDPMSchedule
from .tiling import TiledDenoiser

__all__ = ["DDPMSchedule", "Denoiser", "TiledDenoiser", "ddim_sample", "ddpm_sample", "inpaint",
           "load_denoiser", "load_task", "sample", "superres_x2"]
