"""DDPM machinery shared by Diff-NCA, FourierDiff-NCA and the UNet baseline.

``noise_schedule``: the β schedule and its closed forms (:class:`DDPMSchedule`); ``samplers``:
samplers by name (``diffusers``' DDPM, DDIM, DPM-Solver++, UniPC, Euler, ... schedulers) built
from that schedule; ``sampling``: generation, inpainting, super-resolution through them;
``tiling``: bounded-memory noise prediction for large images; ``fid``: FID/KID; ``evaluate``:
FID/KID of a model's samples (model cards); ``pretrained``: pretrained noise predictors with
their schedule.  Training checkpoints are read above the tasks
(:func:`nca_zoo.drivers.load_diffusion_task`).

The names below are imported when first used (PEP 562), so ``import nca_zoo.diffusion`` does not
load ``diffusers``.
"""
from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "DDPMSchedule": "noise_schedule", "DEFAULT_SAMPLER": "samplers", "SAMPLERS": "samplers",
    "make_sampler": "samplers", "Denoiser": "pretrained", "load_denoiser": "pretrained",
    "denoise": "sampling", "inpaint": "sampling", "sample": "sampling",
    "superres_x2": "sampling", "TiledDenoiser": "tiling"})
